"""Sending a rendered message through the Cloud API, for ``bots.whatsapp``, and what WhatsApp's refusals mean.

A message is one API call mostly (``bots.whatsapp_wire.plan``); a picture is uploaded once and reused. Outside the
24-hour window WhatsApp refuses a free-form message with 131047; then the key's approved template goes, with
our values in the order WHATSAPP_TEMPLATES gives, or the send fails "session window closed" and the router takes
the person's next channel. Each message's first part carries, as ``biz_opaque_callback_data``, its outbox id,
template key and those values: WhatsApp gives them back in the status reports, so a 131047 that comes only as a
failed status (as Meta reports it [I]) is answered with the template too (``bots.whatsapp_reading``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types.templates import BodyText, TemplateLanguage

from bots.whatsapp_wire import (
    MAX_BODY,
    ApprovedTemplate,
    ContactInfoRequestButton,
    SectionList,
    param_text,
    plan,
    tracker,
)
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult, ThrottleScope
from core.templates import Rendered

REENGAGEMENT = 131047  # outside the 24-hour window
UNREACHABLE_CODES = {131026, 131030}  # undeliverable (blocked us, no WhatsApp, an old app); not on a test number's list
PAUSE_CODES = {130429: 1.0, 4: 1.0, 80007: 60.0, 131048: 60.0}  # the number's own limits: all its sends wait [I: times]
PAIR_CODES = {131056}  # too many to this one person: later, without holding the others back
RETRY_CODES = {1, 2, 131000, 131016, 131057, 133004}  # unknown, temporary, service unavailable, maintenance
MEDIA_KEEP = 24 * 3600.0  # an uploaded picture is reused this long (Meta keeps uploads 30 days [I])


def outcome(error: WhatsAppError) -> DeliveryResult:
    detail = f"{error.code} {error.message}"[:300]
    if error.code in UNREACHABLE_CODES:
        return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=detail)
    if error.code in PAUSE_CODES or error.code == 429:  # 429: a proxy's, whose body pywa could not read
        return DeliveryResult(DeliveryOutcome.RETRY, retry_after=PAUSE_CODES.get(error.code, 1.0), detail=detail,
                              throttled=True, scope=ThrottleScope.BOT)
    if error.code in PAIR_CODES:  # throttled, so no fault; this one person only
        return DeliveryResult(DeliveryOutcome.RETRY, detail=detail, throttled=True, scope=ThrottleScope.CHAT)
    if error.code in RETRY_CODES or error.is_transient or (error.status_code or 0) >= 500:
        return DeliveryResult(DeliveryOutcome.RETRY, detail=detail)
    return DeliveryResult(DeliveryOutcome.FAILED, detail=detail)  # 131051 (an unsupported type), 131009, 190…


class Sender:
    def __init__(self, wa: WhatsApp, templates: Mapping[str, ApprovedTemplate]) -> None:
        self.wa, self.templates = wa, templates
        self._uploads: dict[str, tuple[str, float]] = {}  # the picture's digest -> (media id, uploaded at)

    async def send(self, to: str, message: Rendered, message_id: int) -> DeliveryResult:
        # the Cloud API takes no idempotency key: a send whose answer was lost may show twice, as Telegram's may
        approved = self.templates.get(message.template)
        values = None if approved is None or any(n not in message.params for n in approved.params) else \
            [param_text(message.params[n]) for n in approved.params]
        try:
            await self._parts(to, message, tracker(message_id, message.template, values))
        except WhatsAppError as e:
            if e.code != REENGAGEMENT:
                return outcome(e)
            if approved is None:
                return DeliveryResult(DeliveryOutcome.FAILED, detail=f"session window closed ({e.code}): no "
                                      f"approved template for {message.template or 'this message'}")
            return await self.template(to, approved, values, message_id)
        except (httpx.HTTPError, OSError) as e:  # a timeout too: a fault the channel's health counts
            return DeliveryResult(DeliveryOutcome.RETRY, detail=repr(e)[:300])
        except (KeyError, TypeError, ValueError) as e:  # a 200 that is no Cloud API answer (a proxy's page)
            return DeliveryResult(DeliveryOutcome.RETRY, detail=f"unexpected answer: {e!r}"[:300])
        return DELIVERED

    async def _parts(self, to: str, message: Rendered, track: str) -> None:
        parts = plan(message)
        if message.image is not None:
            media = await self._media(message.image, message.image_name)
            first = parts[0]
            if len(parts) == 1 and len(first.text) <= MAX_BODY \
                    and not isinstance(first.action, (SectionList, ContactInfoRequestButton)):  # these take no picture
                await self.wa.send_image(to, media, caption=first.text, buttons=first.action, tracker=track)
                return
            await self.wa.send_image(to, media, tracker=track)  # no room for the rest beside it: the picture first
            track = ""
        for part in parts:
            await self.wa.send_message(to, part.text, buttons=part.action, tracker=track or None)
            track = ""  # the first part carries what a failed status needs; the window closes on all alike

    async def _media(self, image: bytes, name: str) -> str:
        digest = hashlib.sha256(image).hexdigest()
        known = self._uploads.get(digest)
        if known is not None and time.time() - known[1] < MEDIA_KEEP:
            return known[0]
        mime = "image/jpeg" if name.lower().endswith((".jpg", ".jpeg")) else "image/png"
        uploaded = await self.wa.upload_media(image, mime_type=mime, filename=name or "image.png")
        self._uploads[digest] = (uploaded.id, time.time())
        return uploaded.id

    async def template(self, to: str, approved: ApprovedTemplate, values: list[str] | None,
                       message_id: int) -> DeliveryResult:
        """Outside the window: the approved template with our values in its order (the paid way in)."""
        if values is None or len(values) != len(approved.params):
            return DeliveryResult(DeliveryOutcome.FAILED, detail=f"session window closed: template {approved.name} "
                                  f"needs {', '.join(approved.params)}")
        try:
            await self.wa.send_template(to, approved.name, TemplateLanguage(approved.language),
                                        [BodyText.params(*values)] if values else None,
                                        tracker=tracker(message_id, "", None))  # no key: its failure never loops
        except WhatsAppError as e:
            return outcome(e)
        except (httpx.HTTPError, OSError, KeyError, TypeError, ValueError) as e:
            return DeliveryResult(DeliveryOutcome.RETRY, detail=repr(e)[:300])
        return DELIVERED
