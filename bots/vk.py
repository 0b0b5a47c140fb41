"""VK through vkbottle: Long Poll or Callback API -> the intake -> ``InboundEvent``; messages -> ``messages.send``.

Long polling is ours, on vkbottle's API client: the ``ts`` a batch ends at is committed with
the batch, so after a crash polling resumes where the stored updates end (vkbottle's own
loop writes ``ts`` to a file before the events are handled). The Callback API endpoint
checks the community and the secret, stores the event, and only then answers "ok". A
stored event is read back through vkbottle's router, the sender's name looked up (``bots.vk_names``);
a picture sent as a file (a document) is read as a photo, as in Telegram. ``random_id`` is the outbox
id, so a retried send never shows twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiohttp import ClientError, ClientTimeout, web
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from vkbottle import API, Bot, Keyboard, OpenLink, PhotoMessageUploader, Text, VKAPIError, VKApps
from vkbottle.bot import BotLabeler
from vkbottle_types.events import GroupEventType

from bots.channel import ChannelPlugin, ChannelSettings, Mode, SandboxTwin
from bots.vk_app import PAGE_PATH as MINI_APP_PATH
from bots.vk_app import VkMiniApp
from bots.vk_names import VkNames
from bots.webhooks import BadBody, is_id, json_body, json_depth, stored_then_ok
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult, RequestTurn, ThrottleScope
from core.events import EventKind, InboundEvent
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry, NewUpdate
from core.settings import http_url
from core.templates import Rendered

log = logging.getLogger(__name__)

VK = ChannelName("vk")
# 20 requests/s per community token, every method counted (../shared/specs/messaging-limits.md): the limiter's
# catch-up lets 1 + floor(rate + 0.15) = 19 requests into any second at this rate — the sends, the name lookups
# (``bots.vk_names``) and a photo's upload each take a turn (``draw_turns_from``) — and one is left to the
# lateness of a loaded machine, where a request that waited its turn reaches VK with the next second's
DEFAULT_RATE = 18.2
PROFILE = ChannelProfile(VK, "VK", TextFormat.PLAIN, max_text=4096, max_label=40, images=True,
                         rate=Rate(DEFAULT_RATE))
MAX_PHOTO_BYTES = 20 * 1024 * 1024
DOC_IMAGE = 4  # a document's ``type``: 1 text, 2 archive, 3 gif, 4 image, 5 audio, 6 video, 7 e-book, 8 other
PICTURE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "heic", "heif"})
WAIT = 25
MAX_DELAY = 60.0
UNREACHABLE_CODES = {7, 18, 900, 901, 902, 917, 932, 945, 985, 987}  # no permission, blacklisted, privacy, deleted…
RETRY_CODES = {6, 9, 10, 29}  # too many requests, flood control, server error, rate limit
THROTTLE_SCOPES = {6: ThrottleScope.BOT, 29: ThrottleScope.BOT, 9: ThrottleScope.CHAT}
PAYLOAD_LIMIT, PAYLOAD_DEPTH = 1024, 4  # VK's buttons carry 255 characters at most; ours are {"p": "..."}
UNKNOWN_BUTTON = "?"  # a press whose payload we cannot read: answered as any button we do not know
_read: contextvars.ContextVar[list[InboundEvent]] = contextvars.ContextVar("vk_read")


class VkSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="VK_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    group_id: int | None = None
    api_base: str = "https://api.vk.com/method/"
    callback_secret: str = ""
    confirmation_code: str = ""
    rate_per_second: float = Field(DEFAULT_RATE, gt=0)  # requests of every method, as VK counts them
    webhook_path: str = "/webhook/vk"
    # the community's Mini App (VK's settings for developers give it ``<PUBLIC_URL>/scan/vk``): with its id and
    # secret and a public web app, the bot's «📷 Сканировать QR» opens the scanner inside VK
    app_id: int | None = Field(None, gt=0)
    app_secret: SecretStr | None = None  # the app's protected key: VK signs launch parameters with it
    public_url: str | None = Field(None, validation_alias=AliasChoices("VK_PUBLIC_URL", "PUBLIC_URL", "public_url"))

    _api_base = field_validator("api_base")(http_url)
    _public_url = field_validator("public_url")(http_url)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    def check(self, mode: Mode) -> None:
        if self.group_id is None:
            raise ValueError("VK_GROUP_ID: the VK bot needs its community's id")
        if mode == "webhook" and not (self.callback_secret and self.confirmation_code):
            raise ValueError("VK_CALLBACK_SECRET: webhook mode needs VK_CALLBACK_SECRET and VK_CONFIRMATION_CODE")
        if self.app_id is not None and self.app_secret is None:
            raise ValueError("VK_APP_SECRET: the Mini App VK_APP_ID names needs its protected key to check launches")


def method_url(base: str) -> str:
    """vkbottle glues method names onto this, so it must end in ``/method/``."""
    base = base.rstrip("/")
    return f"{base}/" if base.endswith("/method") else f"{base}/method/"


def keyboard(message: Rendered, app: VkMiniApp | None = None) -> str | None:
    rows = [shown for row in message.buttons if (shown := [b for b in row if b.kind != "app" or app])]
    if not rows:
        return None
    board = Keyboard(inline=True)
    for index, row in enumerate(rows):
        if index:
            board.row()
        for b in row:  # labels already fit VK's 40 characters, as whole words (the templates see to it)
            if b.kind == "app" and app is not None:  # the Mini App opens at ``#<payload>``: the page it should show
                board.add(VKApps(app_id=app.app_id, owner_id=-app.group_id, label=b.label, hash=b.payload))
            else:
                board.add(OpenLink(b.url, b.label) if b.kind == "url" else Text(b.label, payload={"p": b.payload}))
    return board.get_json()


def payload_of(raw: Any) -> str | None:
    """Our button payloads are ``{"p": "..."}``; VK's own Start button sends ``{"command": "start"}``."""
    if not raw:
        return None
    if isinstance(raw, str) and (len(raw) > PAYLOAD_LIMIT or json_depth(raw) > PAYLOAD_DEPTH):
        return UNKNOWN_BUTTON  # not one of ours, and not parsed: nesting 5,000 deep exhausts the parser
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if isinstance(data, dict):
        if data.get("command") == "start":
            return "/start"
        value = data.get("p")
        return None if value is None else UNKNOWN_BUTTON if isinstance(value, (dict, list)) else str(value)
    return None


def message_of(event: dict[str, Any]) -> dict[str, Any] | None:
    body = event.get("object")
    message = body.get("message", body) if isinstance(body, dict) else None
    return message if isinstance(message, dict) else None


def stored(event: dict[str, Any]) -> NewUpdate:
    """The redelivery key: the message's own id in its dialog when there is one, else VK's event id."""
    message = message_of(event) or {}
    peer, local = message.get("peer_id"), message.get("conversation_message_id") or message.get("id")
    if is_id(peer) and is_id(local):
        key = f"{peer}:{local}"
    else:
        key = str(event.get("event_id") or json.dumps(event, sort_keys=True, ensure_ascii=False)[:64])
    return NewUpdate(key, str(peer) if is_id(peer) else None, event)


def _size(value: object) -> int:
    return value if is_id(value) else 0  # type: ignore[return-value]


def is_picture(doc: object) -> bool:
    """A document VK files as an image (``type`` 4), or one named like a photo: a receipt sent as a file."""
    if not isinstance(doc, dict):
        return False
    ext = doc.get("ext")
    return doc.get("type") == DOC_IMAGE or (isinstance(ext, str) and ext.lower() in PICTURE_EXTENSIONS)


class VkChannel:
    def __init__(self, settings: VkSettings, mode: Mode) -> None:
        assert settings.bot_token is not None and settings.group_id is not None
        api = API(settings.bot_token.get_secret_value())
        api.API_URL = method_url(settings.api_base)
        self.api = api
        self.group_id = settings.group_id
        self.bot = f"vk:{settings.group_id}"
        self.mini_app = None
        if settings.app_id and settings.app_secret and settings.public_url:  # offered only once VK can open it
            self.mini_app = VkMiniApp(VK, self.bot, settings.group_id, settings.app_id,
                                      settings.app_secret.get_secret_value())
        self.profile = replace(PROFILE, rate=Rate(settings.rate_per_second), mini_app=self.mini_app is not None)
        self.settings = settings
        self.mode = mode
        self.vk = Bot(api=api, labeler=BotLabeler())
        # raw dicts rather than vkbottle's strict models: one unexpected field must not lose a message
        self.vk.on.raw_event(GroupEventType.MESSAGE_NEW, dict)(self._on_message_new)
        self.names = VkNames(api)
        self._polling: asyncio.Task[None] | None = None

    # receiving ---------------------------------------------------------------------------

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        if self.mode != "webhook":
            return []
        secret = self.settings.callback_secret.encode()

        async def callback(request: web.Request) -> web.Response:
            try:
                event = await json_body(request)
            except BadBody as e:
                return e.response
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                return web.Response(status=400, text="not a VK event")
            if event.get("group_id") != self.group_id:
                return web.Response(status=403, text="another community")
            if event["type"] == "confirmation":
                return web.Response(text=self.settings.confirmation_code)
            if not hmac.compare_digest(str(event.get("secret", "")).encode(), secret):
                return web.Response(status=403, text="wrong secret")
            return await stored_then_ok(intake, self.bot, [stored(event)], "vk: a callback event")

        return [web.post(self.settings.webhook_path, callback)]

    async def start(self, intake: Intake) -> None:
        if self.mode == "polling":
            self._polling = asyncio.create_task(self._poll(intake))

    async def _poll(self, intake: Intake) -> None:
        ts = await intake.cursor(self.bot)
        server: dict[str, Any] | None = None
        delay = 1.0
        while True:
            try:
                if server is None:
                    server = (await self.api.request("groups.getLongPollServer",
                                                     {"group_id": self.group_id}))["response"]
                    ts = ts or str(server["ts"])
                answer = await self.api.http_client.request_json(
                    url=server["server"], method="POST", params={"act": "a_check", "key": server["key"], "ts": ts,
                                                                  "wait": WAIT},
                    timeout=ClientTimeout(total=WAIT + 10))
                failed = answer.get("failed")
                if failed == 1:  # VK no longer has the events since ``ts``: go on from where it is now
                    log.warning("vk: long poll history lost at ts=%s", ts)
                    ts = str(answer["ts"])
                    continue
                if failed in (2, 3):  # the key expired (3: and the ts)
                    ts, server = (None if failed == 3 else ts), None
                    continue
                events = [e for e in answer.get("updates") or [] if isinstance(e, dict)]
                next_ts = str(answer["ts"])
                if events or next_ts != ts:
                    await intake.receive(self.bot, [stored(e) for e in events], cursor=next_ts)
                ts = next_ts
            except asyncio.CancelledError:
                raise
            except Exception as e:  # VK or the database is away: nothing is acknowledged, ask again
                log.warning("vk: polling failed (%s); again in %.0fs", e, delay)
                server = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            delay = 1.0

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)

    async def close(self) -> None:
        await self.names.close()
        await self.api.http_client.close()

    # reading a stored update ---------------------------------------------------------------

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        sink: list[InboundEvent] = []
        token = _read.set(sink)
        try:
            await self.vk.process_event(entry.raw)
        finally:
            _read.reset(token)
        return sink[0] if sink else None

    async def _on_message_new(self, event: dict[str, Any]) -> None:
        try:
            inbound = await self._event(event)
        except Exception:  # a field of an unexpected shape: still answered, if we know whom to answer
            log.warning("vk: an event could not be read: %.300r", event, exc_info=True)
            message = message_of(event) or {}
            peer = message.get("peer_id")
            inbound = InboundEvent(VK, str(peer), EventKind.UNSUPPORTED) if is_id(peer) and peer > 0 else None
        if inbound is not None:
            _read.get().append(inbound)

    async def _event(self, event: dict[str, Any]) -> InboundEvent | None:
        message = message_of(event)
        if message is None or message.get("out") or not is_id(message.get("peer_id")):
            return None
        peer_id = message["peer_id"]
        if peer_id <= 0 or peer_id >= 2_000_000_000:
            return None  # group chats and communities: the bot talks to people one to one
        account = str(peer_id)
        local_id = message.get("conversation_message_id") or message.get("id")
        who: dict[str, Any] = {"update_id": f"{peer_id}:{local_id}" if local_id else event.get("event_id"),
                               "display_name": await self.names.of(peer_id)}
        payload = payload_of(message.get("payload"))
        attachments = message.get("attachments") if isinstance(message.get("attachments"), list) else []
        photos = [a.get("photo") for a in attachments if isinstance(a, dict) and a.get("type") == "photo"]
        # a picture sent "as a file" (uncompressed, as people send receipts to keep them legible) is a document
        pictures = [a["doc"] for a in attachments if isinstance(a, dict) and a.get("type") == "doc"
                    and is_picture(a.get("doc"))]
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        ref = message.get("ref")  # vk.me/<group>?ref=<code>: the pack's link, on the first message after it
        attached = photos or pictures
        if isinstance(ref, str) and ref.strip() and (payload == "/start" or (payload is None and not attached)):
            return InboundEvent.from_text(VK, account, f"/start {ref.strip()[:64]}", **who)
        if payload is not None:
            return InboundEvent.button(VK, account, payload, **who)
        if attached and text:
            who["text"] = text[:4096]  # the photo's caption: kept with it (a ticket's words)
        if photos and isinstance(photos[0], dict):
            return await self._photo_event(account, photos[0], who)
        if pictures:
            return await self._document_event(account, pictures[0], who)
        if text:
            who.pop("text", None)  # the attachment was no photo after all: the words are the message
            return InboundEvent.from_text(VK, account, text, **who)
        return InboundEvent(VK, account, EventKind.UNSUPPORTED, **who)

    async def _photo_event(self, account: str, photo: dict[str, Any], who: dict[str, Any]) -> InboundEvent:
        sizes = [s for s in photo.get("sizes") or [] if isinstance(s, dict) and isinstance(s.get("url"), str)]
        if not sizes:
            return InboundEvent(VK, account, EventKind.PHOTO, attachment_error="download_failed", **who)
        largest = max(sizes, key=lambda s: _size(s.get("width")) * _size(s.get("height")))
        return await self._download(account, largest["url"], who)

    async def _document_event(self, account: str, doc: dict[str, Any], who: dict[str, Any]) -> InboundEvent:
        if _size(doc.get("size")) > MAX_PHOTO_BYTES:
            return InboundEvent(VK, account, EventKind.PHOTO, attachment_error="too_large", **who)
        if not isinstance(doc.get("url"), str):
            return InboundEvent(VK, account, EventKind.PHOTO, attachment_error="download_failed", **who)
        return await self._download(account, doc["url"], who)

    async def _download(self, account: str, url: str, who: dict[str, Any]) -> InboundEvent:
        try:
            data = await self.api.http_client.request_content(url)
        except (ClientError, OSError, TimeoutError) as e:
            log.warning("vk photo download failed: %s", e)
            return InboundEvent(VK, account, EventKind.PHOTO, attachment_error="download_failed", **who)
        if len(data) > MAX_PHOTO_BYTES:
            return InboundEvent(VK, account, EventKind.PHOTO, attachment_error="too_large", **who)
        return InboundEvent(VK, account, EventKind.PHOTO, photo=data, **who)

    # sending -----------------------------------------------------------------------------

    def draw_turns_from(self, turn: RequestTurn) -> None:
        """Every request VK counts besides a send waits for a turn of the community's bucket (all processes')."""
        self.names.turn = turn  # the name lookups and this channel's photo uploads both take it from there

    async def allows(self, account_id: str) -> bool | None:
        """``messages.isMessagesFromGroupAllowed``: may the community write to this person first?"""
        try:
            answer = await self.api.request("messages.isMessagesFromGroupAllowed",
                                            {"group_id": self.group_id, "user_id": int(account_id)})
        except (VKAPIError, ClientError, OSError, TimeoutError, ValueError) as e:
            log.warning("vk: isMessagesFromGroupAllowed failed for %s: %s", account_id, e)
            return None
        allowed = (answer.get("response") or {}).get("is_allowed")
        return None if allowed is None else bool(allowed)

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        try:
            attachment = None
            if message.image is not None:  # photos.getMessagesUploadServer and photos.saveMessagesPhoto count too
                await self.names.turn()
                await self.names.turn()
                attachment = await PhotoMessageUploader(self.api).upload(message.image, peer_id=int(account_id))
            await self.api.messages.send(peer_id=int(account_id), random_id=idempotency_key % 2**31,
                                         message=message.text, keyboard=keyboard(message, self.mini_app),
                                         dont_parse_links=1, attachment=attachment)
        except VKAPIError as e:
            detail = f"{e.code} {e.error_msg}"
            if e.code in UNREACHABLE_CODES:
                return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=detail)
            if e.code in RETRY_CODES:
                # 6 and 29: the community's own limits, every chat waits; 9: flood control of this one chat
                scope = THROTTLE_SCOPES.get(e.code)
                return DeliveryResult(DeliveryOutcome.RETRY, retry_after=1.0 if e.code == 6 else None, detail=detail,
                                      throttled=scope is not None, scope=scope)
            return DeliveryResult(DeliveryOutcome.FAILED, detail=detail)
        except (ClientError, OSError, TimeoutError) as e:
            return DeliveryResult(DeliveryOutcome.RETRY, detail=repr(e))
        return DELIVERED


async def _sandbox(web_url: str) -> SandboxTwin:
    from bots.emulators.vk_api import VkEmulator, VkSandboxChat

    # a community id of its own per run, as a bot id for Telegram: a restarted sandbox is a new
    # community, whose message ids (counted from 1 again) never collide with the last run's
    emulator = VkEmulator(group_id=200_000_000 + secrets.randbelow(10**8))
    await emulator.start()
    app_id, secret = 50_000_000 + secrets.randbelow(10**7), secrets.token_urlsafe(16)
    emulator.register_app(app_id, secret, f"{web_url}{MINI_APP_PATH}")  # as set in VK's settings for developers
    settings = VkSettings(_env_file=None, bot_token="sandbox-token", group_id=emulator.group_id,
                          api_base=emulator.api_url, app_id=app_id, app_secret=secret, public_url=web_url)
    return SandboxTwin(settings, emulator.stop, VkSandboxChat(emulator), emulator)


# vkbottle adds its own console handler at import: it logs once, through ours
PLUGIN = ChannelPlugin(VK, VkSettings, VkChannel, PROFILE, _sandbox, ("vkbottle",))
