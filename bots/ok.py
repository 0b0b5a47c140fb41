"""OK (Odnoklassniki) group messages through its Graph API: updates -> the intake -> ``InboundEvent``; sends.

No maintained Python client exists: ``bots.ok_graph`` is a thin one over aiohttp. Webhook mode: OK POSTs
each update to the subscribed URL until answered 200 (for 8 hours). OK signs nothing and sends no secret
header (its source networks are all else, and behind a proxy not ours to see), so the URL is the secret:
``/webhook/ok/<OK_WEBHOOK_SECRET>``, checked in constant time before the body is read; an update is stored,
then answered 200; a body that is not an update gets 400, a database that is away 503. Polling mode (local
runs, the sandbox): OK's long-polling subscription and ``GET /graph/me/updates``, the marker committed with
the batch it ends. A stored update is read back here, where OK's answer to a button press is sent too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode, SandboxTwin
from bots.ok_graph import FAULTS, GraphApi, OkError, attachments_of, chat_of, decoded, keyboard, stored, text_of
from bots.webhooks import BadBody, json_body, stored_then_ok
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult
from core.events import EventKind, InboundEvent, SharedContact
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry
from core.settings import http_url
from core.templates import Rendered

log = logging.getLogger(__name__)

OK = ChannelName("ok")
# OK documents no sending limit for group bots [I]: 10 requests/s per group is our assumption (the emulator
# enforces it), kept 4% below as Telegram's and VK's are; OK_RATE_PER_SECOND changes it. Text and label
# limits are undocumented too [I]: 4000 characters as in OK's sibling MAX, labels of 40 as VK's.
DEFAULT_RATE = 9.6
PROFILE = ChannelProfile(OK, "OK", TextFormat.PLAIN, max_text=4000, max_label=40, images=True,
                         rate=Rate(DEFAULT_RATE), per_chat=Rate(1, burst=3))
UPDATE_TYPES = ["MESSAGE_CREATED", "MESSAGE_CALLBACK", "CHAT_SYSTEM"]
MAX_PHOTO_BYTES = 20 * 1024 * 1024
PHOTO_HOSTS = ("mycdn.me", "ok.ru", "okcdn.ru")  # OK's own; a photo URL elsewhere is a forged update
UNREACHABLE_CODES = {10, 110, 300}  # PERMISSION_DENIED (blocked the group), PARAM_USER_ID, NOT_FOUND (no such chat)
THROTTLE_CODES = {8, 11}  # FLOOD_BLOCKED, LIMIT_REACHED: every send of this group waits
RETRY_CODES = {1, 2, 7, 9999}  # UNKNOWN, SERVICE, ACTION_BLOCKED (temporary), SYSTEM
ACK = "✓"  # OK requires a message in a callback's answer [C]; the real reply comes through the outbox
WAIT = 25
SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")


class OkSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="OK_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    bot_token: SecretStr | None = None
    api_base: str = "https://api.ok.ru"
    group_id: str = ""  # "group:…": names the bot in the intake (else a digest of the token does)
    webhook_secret: str = ""
    webhook_path: str = "/webhook/ok"
    # where OK can reach us: in webhook mode the channel subscribes PUBLIC_URL/webhook/ok/<secret> itself
    public_url: str | None = Field(None, validation_alias=AliasChoices("OK_PUBLIC_URL", "PUBLIC_URL", "public_url"))
    rate_per_second: float = Field(DEFAULT_RATE, gt=0)

    _urls = field_validator("api_base", "public_url")(http_url)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    def check(self, mode: Mode) -> None:
        if mode == "webhook" and not SECRET.fullmatch(self.webhook_secret):
            raise ValueError("OK_WEBHOOK_SECRET: webhook mode needs 16+ letters, digits, '-' or '_' (a path segment)")


class OkChannel:
    def __init__(self, settings: OkSettings, mode: Mode) -> None:
        assert settings.bot_token is not None
        self.profile = replace(PROFILE, rate=Rate(settings.rate_per_second))
        token = settings.bot_token.get_secret_value()
        self.api = GraphApi(settings.api_base, token)
        group = settings.group_id.removeprefix("group:")
        self.bot = f"ok:{group or hashlib.sha256(token.encode()).hexdigest()[:16]}"
        self.settings, self.mode = settings, mode
        self.photo_hosts = (urlsplit(settings.api_base).hostname or "", *PHOTO_HOSTS)
        self._polling: asyncio.Task[None] | None = None

    # receiving ---------------------------------------------------------------------------

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        if self.mode != "webhook":
            return []
        secret = self.settings.webhook_secret.encode()

        async def webhook(request: web.Request) -> web.Response:
            if not hmac.compare_digest(request.match_info["secret"].encode(), secret):
                return web.Response(status=403, text="unknown group or wrong secret")
            try:
                update = await json_body(request)
            except BadBody as e:
                return e.response
            try:
                if not isinstance(update, dict) or not isinstance(update.get("webhookType"), str):
                    raise ValueError(update)
                new = stored(update)
            except (ValueError, RecursionError):  # nested too deep to take a digest of: no update of OK's either
                return web.Response(status=400, text="not an OK update")
            return await stored_then_ok(intake, self.bot, [new], "ok: a webhook update")

        return [web.post(self.settings.webhook_path + "/{secret}", webhook)]

    async def start(self, intake: Intake) -> None:
        await self._greet()
        if self.mode == "polling":
            self._polling = asyncio.create_task(self._poll(intake))
        elif self.settings.public_url:
            await self._subscribe_webhook()

    async def _greet(self) -> None:
        """Ask whose token this is: a wrong token or group shows in the log at start, not at the first send."""
        try:
            info = await self.api.call("GET", "me/info", timeout=5)
            log.info("ok: group %r (%s)", info.get("name"), info.get("group_id"))
        except FAULTS as e:
            log.warning("ok: me/info failed (%s); going on", e)

    async def _subscribe_webhook(self) -> None:
        assert self.settings.public_url is not None
        url = f"{self.settings.public_url.rstrip('/')}{self.settings.webhook_path}/{self.settings.webhook_secret}"
        try:
            listed = (await self.api.call("GET", "me/subscriptions")).get("subscriptions") or []
            if url not in [s.get("url") for s in listed if isinstance(s, dict)]:
                await self.api.call("POST", "me/subscribe", {"url": url})
            log.info("ok: webhook subscribed at %s/…", url.rsplit("/", 1)[0])  # the secret stays out of the log
        except FAULTS as e:
            log.error("ok: the webhook could not be subscribed (%s); OK sends nothing until it is", e)

    async def _poll(self, intake: Intake) -> None:
        marker = await intake.cursor(self.bot)
        subscribed, delay = False, 1.0
        while True:
            try:
                if not subscribed:
                    await self.api.call("POST", "me/subscribe", {"types": UPDATE_TYPES, "longPolling": True})
                    subscribed = True
                params: dict[str, str | int] = {"count": 100, "timeout": WAIT, **({"marker": marker} if marker else {})}
                answer = await self.api.call("GET", "me/updates", params=params, timeout=WAIT + 10)
                # graph.user.updates' answer is not in OK's stored docs: {"marker", "updates"} as events.updates [I],
                # each update an object or (as events.updates gives them) its JSON text
                raw = [decoded(u) for u in answer.get("updates") or []]
                updates = [u for u in raw if isinstance(u, dict) and isinstance(u.get("webhookType"), str)]
                next_marker = text_of(answer.get("marker"), 256) or marker
                if updates or next_marker != marker:  # a marker too long to store is kept in memory only
                    cursor = next_marker if next_marker and len(next_marker) <= 64 else None
                    await intake.receive(self.bot, [stored(u) for u in updates], cursor=cursor)
                marker = next_marker
            except asyncio.CancelledError:
                raise
            except Exception as e:  # OK or the database is away: nothing is acknowledged, ask again
                log.warning("ok: polling failed (%s); again in %.0fs", e, delay)
                subscribed = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)

    async def close(self) -> None:
        await self.api.close()

    # reading a stored update ---------------------------------------------------------------

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        update, chat = entry.raw, chat_of(entry.raw)
        if chat is None:
            return None
        sender = update.get("sender") if isinstance(update.get("sender"), dict) else {}
        who: dict[str, Any] = {"update_id": entry.update_id, "display_name": str(sender.get("name") or "")[:128]}
        try:
            return await self._event(update, chat, who)
        except Exception:  # a field of an unexpected shape: still answered, since we know whom to answer
            log.warning("ok: update %s could not be read: %.300r", entry.update_id, update, exc_info=True)
            return InboundEvent(OK, chat, EventKind.UNSUPPORTED, **who)

    async def _event(self, update: dict[str, Any], chat: str, who: dict[str, Any]) -> InboundEvent | None:
        kind = str(update.get("webhookType", "")).upper()
        unsupported = InboundEvent(OK, chat, EventKind.UNSUPPORTED, **who)
        if kind == "MESSAGE_CALLBACK":
            if callback := text_of(update.get("callbackId"), 256):
                await self._answer(chat, callback)
            payload = text_of(update.get("payload"), 256)
            return InboundEvent.button(OK, chat, payload, **who) if payload else unsupported
        if kind == "CHAT_SYSTEM":  # the chat opened from a link with a start parameter: the pack's campaign link
            payload = update.get("payload")
            start = payload.strip()[:64] if isinstance(payload, str) else ""
            return InboundEvent.from_text(OK, chat, f"/start {start}".strip(), **who) if start else None
        if kind != "MESSAGE_CREATED":
            return None
        if not isinstance(message := update.get("message"), dict):
            return unsupported
        attachments = attachments_of(message)
        kinds = [str(a.get("type", "")).upper() for a in attachments]
        if "IMAGE" in kinds:
            caption = text_of(message.get("text"), 4096)  # kept with the photo (a ticket's words)
            return await self._photo(chat, attachments[kinds.index("IMAGE")]["payload"],
                                     {**who, "text": caption} if caption else who)
        if "CONTACT" in kinds and (phone := text_of(attachments[kinds.index("CONTACT")]["payload"].get("phone"), 32)):
            # OK does not say whose number a shared contact is: it counts as typed, never as proved
            return InboundEvent(OK, chat, EventKind.CONTACT, contact=SharedContact(phone, False), **who)
        text = message.get("text")
        return InboundEvent.from_text(OK, chat, text, **who) if isinstance(text, str) and text.strip() else unsupported

    async def _answer(self, chat: str, callback: str) -> None:
        try:  # stops the button's spinner; harmless if it fails (or was answered before this redelivery)
            await self.api.call("POST", f"{quote(chat, safe=':')}/answer", {"message": {"text": ACK}},
                                params={"callbackId": callback}, timeout=5)
        except FAULTS as e:
            log.debug("ok: answering callback failed: %s", e)

    async def _photo(self, chat: str, payload: dict[str, Any], who: dict[str, Any]) -> InboundEvent:
        url, data, error = text_of(payload.get("url"), 2048) or "", bytearray(), None
        host = urlsplit(url).hostname or ""
        if not any(host == allowed or host.endswith(f".{allowed}") for allowed in self.photo_hosts if allowed):
            log.warning("ok: a photo at %r is not OK's; not fetched", host)  # a forged update must not make us fetch
            error = "download_failed"
        else:
            try:
                async with self.api.session.get(url) as answer:
                    if answer.status != 200:
                        raise OkError(None, "", answer.status)
                    async for chunk in answer.content.iter_chunked(64 * 1024):
                        data += chunk
                        if len(data) > MAX_PHOTO_BYTES:
                            break
            except FAULTS as e:
                log.warning("ok: photo download failed: %s", e)
                error = "download_failed"
        error = error or ("too_large" if len(data) > MAX_PHOTO_BYTES else None)
        return InboundEvent(OK, chat, EventKind.PHOTO, photo=None if error else bytes(data), attachment_error=error,
                            **who)

    # sending -----------------------------------------------------------------------------

    async def _upload(self, image: bytes, name: str) -> str:
        """``fileUploadUrl`` then a multipart POST; the answer's shape is OK's photo upload's [I]."""
        ticket = await self.api.call("GET", "me/fileUploadUrl", params={"type": "IMAGE"})
        form = aiohttp.FormData()
        form.add_field("data", image, filename=name or "image.png")
        async with self.api.session.post(str(ticket.get("url")), data=form) as answer:
            uploaded = await answer.json(content_type=None)
        photos = uploaded.get("photos") if isinstance(uploaded, dict) else None
        token = next((p.get("token") for p in (photos or {}).values() if isinstance(p, dict)), None)
        if not isinstance(token, str):
            raise OkError(None, "", answer.status)
        return token

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        # OK has no idempotency key: a send whose answer was lost may show twice, as Telegram's may
        try:
            attachments = [] if message.image is None else [
                {"type": "IMAGE", "payload": {"token": await self._upload(message.image, message.image_name)}}]
            if (board := keyboard(message)) is not None:
                attachments.append(board)
            content: dict[str, Any] = {"text": message.text}
            if attachments:
                content["attachment" if len(attachments) == 1 else "attachments"] = (
                    attachments[0] if len(attachments) == 1 else attachments)
            answer = await self.api.call("POST", f"me/messages/{quote(account_id, safe=':')}",
                                         {"recipient": {"chat_id": account_id}, "message": content})
        except OkError as e:
            if e.code in UNREACHABLE_CODES:
                return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=str(e))
            throttled = e.code in THROTTLE_CODES or (e.code is None and e.status == 429)
            if throttled or e.code in RETRY_CODES or (e.code is None and e.status >= 500):
                return DeliveryResult(DeliveryOutcome.RETRY, retry_after=1.0 if throttled else None, detail=str(e),
                                      throttled=throttled)
            return DeliveryResult(DeliveryOutcome.FAILED, detail=str(e))
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return DeliveryResult(DeliveryOutcome.RETRY, detail=repr(e))
        if answer.get("success") is False:
            return DeliveryResult(DeliveryOutcome.FAILED, detail="OK answered success: false")
        return DELIVERED


async def _sandbox(web_url: str) -> SandboxTwin:
    from bots.emulators.ok_api import OkEmulator, OkSandboxChat

    # a group of its own per run, as VK's community: a restarted sandbox never meets the last run's marker
    emulator = OkEmulator(group_id=f"group:{70_000_000_000_000 + secrets.randbelow(10**12)}")
    await emulator.start()
    settings = OkSettings(_env_file=None, bot_token=emulator.token, api_base=emulator.base_url,
                          group_id=emulator.group_id)
    return SandboxTwin(settings, emulator.stop, OkSandboxChat(emulator), emulator)


PLUGIN = ChannelPlugin(OK, OkSettings, OkChannel, PROFILE, _sandbox)
