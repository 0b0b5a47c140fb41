"""A stored WhatsApp update read back into the core's event, for ``bots.whatsapp``.

Texts; reply-button and list presses (our payloads); a template's quick reply (its text, as if typed); photos and
image documents, fetched by their media id (its URL from the Graph API, then the file with the token, only from
Meta's hosts or the API's own, size-capped); contact cards, the person's own number when WhatsApp vouches for it
(the answer to a "request contact info" message, or their own number on the card); a "failed" status of a message
we sent, answered with the approved template when the window had closed. Reactions and system notices hold
nothing for us. Each message is marked read (the person sees the blue ticks), without holding the reading up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError

from bots.whatsapp_wire import (
    MEDIA_ID,
    MESSAGE_ID,
    SHARE_CONTACT,
    WA_ID,
    WHATSAPP,
    ApprovedTemplate,
    matching,
    text_of,
    tracked,
)
from core.delivery import DeliveryOutcome, DeliveryResult
from core.events import EventKind, InboundEvent, SharedContact
from core.ports import InboxEntry

log = logging.getLogger("bots.whatsapp")

MAX_PHOTO_BYTES = 20 * 1024 * 1024
MEDIA_HOSTS = ("fbsbx.com", "fbcdn.net", "whatsapp.net")  # lookaside.fbsbx.com and Meta's CDNs [I]
FAULTS = (WhatsAppError, httpx.HTTPError, OSError, KeyError, TypeError, ValueError)
NOTHING_FOR_US = {"reaction", "system", "ephemeral", "deleted"}
SendTemplate = Callable[[str, ApprovedTemplate, list[str], int], Awaitable[DeliveryResult]]


class TemplateNotSent(Exception):
    """The approved template could not go yet: the intake reads the failed status again later."""


class Reader:
    def __init__(self, wa: WhatsApp, api_base: str, templates: Mapping[str, ApprovedTemplate],
                 send_template: SendTemplate) -> None:
        self.wa, self.templates, self.send_template = wa, templates, send_template
        self.hosts = tuple(h for h in (urlsplit(api_base).hostname, *MEDIA_HOSTS) if h)
        self._marking: set[asyncio.Task[None]] = set()

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        account, raw = entry.account_id, entry.raw
        if not account:
            return None
        if isinstance(raw.get("failed"), dict):
            await self._failed(account, raw["failed"])
            return None
        message, contact = raw.get("message"), raw.get("contact")
        contact = contact if isinstance(contact, dict) else {}
        profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
        who: dict[str, Any] = {"update_id": entry.update_id,
                               "display_name": (text_of(profile.get("name"), 1024) or "")[:128]}
        if not isinstance(message, dict):
            return InboundEvent(WHATSAPP, account, EventKind.UNSUPPORTED, **who)
        self._mark_read(message.get("id"))
        try:
            return await self._event(account, message, contact, who)
        except Exception:  # a field of an unexpected shape: still answered, since we know whom to answer
            log.warning("whatsapp: update %s could not be read: %.300r", entry.update_id, message, exc_info=True)
            return InboundEvent(WHATSAPP, account, EventKind.UNSUPPORTED, **who)

    async def _event(self, account: str, message: dict[str, Any], contact: dict[str, Any],
                     who: dict[str, Any]) -> InboundEvent | None:
        kind = message.get("type")
        content = message.get(kind) if isinstance(kind, str) else None
        content = content if isinstance(content, dict) else {}
        unsupported = InboundEvent(WHATSAPP, account, EventKind.UNSUPPORTED, **who)
        if kind == "text":
            body = text_of(content.get("body"), 4096)
            return InboundEvent.from_text(WHATSAPP, account, body, **who) if body and body.strip() else unsupported
        if kind == "interactive" and content.get("type") in ("button_reply", "list_reply"):
            reply = content.get(content["type"])
            payload = text_of(reply.get("id"), 256) if isinstance(reply, dict) else None
            if payload == SHARE_CONTACT:  # our contact button among others: now WhatsApp's own request
                await self._ask_contact(account, text_of(reply.get("title"), 24) if isinstance(reply, dict) else None)
                return None
            return InboundEvent.button(WHATSAPP, account, payload, **who) if payload else unsupported
        if kind == "button" and (said := text_of(content.get("text"), 256)):
            return InboundEvent.from_text(WHATSAPP, account, said, **who)  # a template's quick reply
        if kind == "image" or (kind == "document" and str(content.get("mime_type", "")).startswith("image/")):
            caption = text_of(content.get("caption"), 4096)  # kept with the photo (a ticket's words)
            return await self._photo(account, content, {**who, "text": caption} if caption else who)
        if kind == "contacts":
            return self._contact(account, message, contact, who) or unsupported
        if kind == "request_welcome":  # the person opened the chat for the first time [I]
            return InboundEvent.from_text(WHATSAPP, account, "/start", **who)
        return None if kind in NOTHING_FOR_US else unsupported

    @staticmethod
    def _contact(account: str, message: dict[str, Any], contact: dict[str, Any],
                 who: dict[str, Any]) -> InboundEvent | None:
        """A card's number is the sender's own only when WhatsApp says so: shared from our request, or equal to the
        number the update comes from (both signed by Meta). A typed number on a card proves nothing."""
        own = matching(WA_ID, message.get("from") or contact.get("wa_id"))
        cards = message.get("contacts") if isinstance(message.get("contacts"), list) else []
        for card in (c for c in cards if isinstance(c, dict)):
            for phone in (p for p in card.get("phones") or [] if isinstance(p, dict)):
                if wa_id := matching(WA_ID, phone.get("wa_id")):
                    is_own = card.get("origin") == "contact_request" or wa_id == own
                    return InboundEvent(WHATSAPP, account, EventKind.CONTACT,
                                        contact=SharedContact(f"+{wa_id}", is_own), **who)
                if typed := text_of(phone.get("phone"), 32):
                    return InboundEvent(WHATSAPP, account, EventKind.CONTACT, contact=SharedContact(typed, False),
                                        **who)
        return None

    async def _ask_contact(self, account: str, label: str | None) -> None:
        try:
            await self.wa.request_contact_info(account, label or "📱")
        except FAULTS as e:
            log.warning("whatsapp: asking %s for their number failed: %s", account, e)

    async def _photo(self, account: str, content: dict[str, Any], who: dict[str, Any]) -> InboundEvent:
        media_id, data, error = matching(MEDIA_ID, content.get("id")), bytearray(), None
        try:
            if media_id is None:
                raise ValueError(f"not a media id: {str(content.get('id'))[:40]!r}")
            found = await self.wa.get_media_url(media_id)
            host = urlsplit(found.url).hostname or ""
            if isinstance(found.file_size, int) and found.file_size > MAX_PHOTO_BYTES:
                error = "too_large"
            elif not any(host == h or host.endswith(f".{h}") for h in self.hosts):
                log.warning("whatsapp: media at %r is not Meta's; not fetched", host)  # the token goes with it
                error = "download_failed"
            else:
                async with contextlib.aclosing(self.wa.stream_media(found.url, timeout=30)) as chunks:
                    async for chunk in chunks:
                        data += chunk
                        if len(data) > MAX_PHOTO_BYTES:
                            break
        except FAULTS as e:
            log.warning("whatsapp: photo download failed: %s", e)
            error = "download_failed"
        error = error or ("too_large" if len(data) > MAX_PHOTO_BYTES else None)
        return InboundEvent(WHATSAPP, account, EventKind.PHOTO, photo=None if error else bytes(data),
                            attachment_error=error, **who)

    async def _failed(self, account: str, status: dict[str, Any]) -> None:
        errors = status.get("errors") if isinstance(status.get("errors"), list) else []
        code = next((e.get("code") for e in errors if isinstance(e, dict)), None)
        data = tracked(status.get("biz_opaque_callback_data"))
        key, values = data.get("t"), data.get("v")
        approved = self.templates.get(key) if isinstance(key, str) and key else None
        if code == 131047 and approved is not None and isinstance(values, list) \
                and all(isinstance(v, str) for v in values):
            message_id = data["m"] if isinstance(data.get("m"), int) else 0
            result = await self.send_template(account, approved, values, message_id)
            if result.outcome is DeliveryOutcome.RETRY:
                raise TemplateNotSent(result.detail)
            log.info("whatsapp: message %s found the window closed; template %s: %s", message_id, approved.name,
                     result.outcome.value)
            return
        # the core has no word yet for "delivered, then failed": the message stays counted as delivered
        log.warning("whatsapp: message %s to %s failed after it was sent: %s", data.get("m"), account,
                    errors[:1] or status.get("status"))

    def _mark_read(self, message_id: object) -> None:
        if (checked := matching(MESSAGE_ID, message_id)) is None:
            return
        task = asyncio.get_running_loop().create_task(self._mark(checked))
        self._marking.add(task)
        task.add_done_callback(self._marking.discard)

    async def _mark(self, message_id: str) -> None:
        try:
            await self.wa.mark_message_as_read(message_id)
        except FAULTS as e:
            log.debug("whatsapp: marking %s read failed: %s", message_id, e)

    async def close(self) -> None:
        for task in list(self._marking):
            task.cancel()
        await asyncio.gather(*self._marking, return_exceptions=True)
