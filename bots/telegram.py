"""Telegram through aiogram 3: updates -> the intake -> ``InboundEvent``; rendered messages -> Bot API calls.

Polling by default (``bots.telegram_polling``: an update is acknowledged only once stored).
In webhook mode our endpoint checks ``X-Telegram-Bot-Api-Secret-Token``, stores the update,
and answers 200 only then: a body that is not an update gets 400, a database that is away
gets 503 (Telegram sends it again). A stored update is read back through aiogram's
``Dispatcher``; one aiogram cannot parse is still answered when its chat can be found.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
    WebAppInfo,
)
from aiohttp import web
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode, SandboxTwin
from bots.telegram_polling import UpdatePoller, chat_of
from bots.telegram_webapp import TelegramMiniApp
from bots.webhooks import BadBody, is_id, json_body, stored_then_ok
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult
from core.events import EventKind, InboundEvent, SharedContact
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry, NewUpdate
from core.settings import http_url
from core.templates import Button, Rendered

log = logging.getLogger(__name__)

TELEGRAM = ChannelName("telegram")
# 30 messages/s per bot, about 1/s per chat with short bursts (../shared/specs/messaging-limits.md); by default
# we keep 4% below the bot's limit, so that with the limiter's catch-up no second holds more than 29 sends: one
# to spare, and sends that leave on time must reach Telegram 36 ms closer together than they left before a 31st
# falls into one second
DEFAULT_RATE = 28.8
PROFILE = ChannelProfile(TELEGRAM, "Telegram", TextFormat.HTML, max_text=4096, max_label=64,
                         contact_button=True, images=True, rate=Rate(DEFAULT_RATE), per_chat=Rate(1, burst=3))
MAX_PHOTO_BYTES = 20 * 1024 * 1024  # the Bot API's own download limit
CALLBACK_DATA_LIMIT = 64
CAPTION_LIMIT = 1024  # longer texts go as a message without the picture
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="TELEGRAM_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    bot_token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    webhook_secret: str = Field("", validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "WEBHOOK_PATH_SECRET",
                                                                    "webhook_secret"))
    webhook_path: str = "/webhook/telegram"
    # a bot whose limit @BotSupport raised may go faster; a busy machine whose sends leave late may go slower
    rate_per_second: float = Field(DEFAULT_RATE, gt=0)
    # a send the Bot API has not answered by then counts as a network fault: while Telegram is throttled, waiting
    # longer only holds the chat's lane (the router tries the person's next channel, the health tracker counts it)
    send_timeout: int = Field(5, gt=0, le=120)

    # where people reach the web app: with it, the bot's «📷 Сканировать QR» opens our scanner page as a Mini App
    public_url: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_PUBLIC_URL", "PUBLIC_URL",
                                                                      "public_url"))
    web_app_over_http: bool = False  # Telegram opens only https Mini Apps; the emulator takes the sandbox's http

    _api_base = field_validator("api_base")(http_url)
    _public_url = field_validator("public_url")(http_url)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    @property
    def opens_mini_apps(self) -> bool:
        """Whether a ``web_app`` button at ``public_url`` would be sent: the Bot API refuses one that is not https
        (the whole message with it), so without one the scanner is not offered."""
        return bool(self.public_url) and (str(self.public_url).startswith("https://") or self.web_app_over_http)

    def check(self, mode: Mode) -> None:
        if mode == "webhook" and len(self.webhook_secret) < 16:
            raise ValueError("WEBHOOK_PATH_SECRET: webhook mode needs a secret of 16+ characters")


def keyboard(message: Rendered, web_app: str | None = None) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """The markup under the message's text. Telegram asks for a contact only from a reply keyboard, where any other
    button would send just its label as text («Код по SMS» answered "choose from the menu"): the other buttons stay
    inline here, and the contact request follows in a message of its own (``contact_request``)."""
    if not message.buttons:
        return None
    inline = _inline_rows(message, web_app)
    if message.asks_for_contact and not inline:
        return _contact_keyboard(message)
    return InlineKeyboardMarkup(inline_keyboard=inline) if inline else None


def contact_request(message: Rendered, web_app: str | None = None) -> tuple[str, ReplyKeyboardMarkup] | None:
    """The second message of one that asks for a contact among other buttons: the request's label as its text
    (Telegram sends no empty text), over the reply keyboard that shares the contact."""
    if not message.asks_for_contact or not _inline_rows(message, web_app):
        return None
    label = next(b.label for row in message.buttons for b in row if b.kind == "contact")
    return label, _contact_keyboard(message)


def _contact_keyboard(message: Rendered) -> ReplyKeyboardMarkup:
    rows = [[KeyboardButton(text=b.label, request_contact=True) for b in row if b.kind == "contact"]
            for row in message.buttons]
    return ReplyKeyboardMarkup(keyboard=[row for row in rows if row], resize_keyboard=True, one_time_keyboard=True)


def _inline_rows(message: Rendered, web_app: str | None) -> list[list[InlineKeyboardButton]]:
    rows = [[button for b in row if b.kind != "contact" and (button := _inline(b, web_app)) is not None]
            for row in message.buttons]
    return [row for row in rows if row]


def _inline(b: Button, web_app: str | None) -> InlineKeyboardButton | None:
    if b.kind == "url":
        return InlineKeyboardButton(text=b.label, url=b.url)
    if b.kind == "app":  # the scanner page, opened inside Telegram with the person's signed initData
        return InlineKeyboardButton(text=b.label, web_app=WebAppInfo(url=web_app)) if web_app else None
    return InlineKeyboardButton(text=b.label, callback_data=b.payload[:CALLBACK_DATA_LIMIT])


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, mode: Mode) -> None:
        assert settings.bot_token is not None
        token = settings.bot_token.get_secret_value()
        server = TelegramAPIServer.from_base(settings.api_base.rstrip("/"))
        self.bot_api = Bot(token, session=AiohttpSession(api=server))
        self.bot = f"telegram:{token.split(':', 1)[0]}"  # the bot's id: a new token of the same bot keeps it
        self.mini_app = (TelegramMiniApp(TELEGRAM, self.bot, token, settings.public_url)
                         if settings.opens_mini_apps and settings.public_url else None)
        self.profile = replace(PROFILE, rate=Rate(settings.rate_per_second), mini_app=self.mini_app is not None)
        self._web_app = self.mini_app.url if self.mini_app else None
        self.settings = settings
        self.mode = mode
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.dispatcher.include_router(self._router())
        self._polling: asyncio.Task[None] | None = None

    # receiving ---------------------------------------------------------------------------

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        if self.mode != "webhook":
            return []
        secret = self.settings.webhook_secret.encode()

        async def webhook(request: web.Request) -> web.Response:
            if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret):
                return web.Response(status=401, text="wrong secret token")
            try:
                update = await json_body(request)
            except BadBody as e:
                return e.response
            if not isinstance(update, dict) or not is_id(update.get("update_id")):
                return web.Response(status=400, text="not a Telegram update")
            return await stored_then_ok(intake, self.bot, [self._stored(update)], "telegram: a webhook update")

        return [web.post(self.settings.webhook_path, webhook)]

    async def start(self, intake: Intake) -> None:
        if self.mode == "webhook":
            await self._greet()
            return
        try:  # polling needs no webhook; a server without this method, or not up yet, is no reason to stop
            await self.bot_api.delete_webhook(drop_pending_updates=False)
        except (TelegramAPIError, OSError, TimeoutError) as e:
            log.warning("telegram: deleteWebhook failed (%s); polling anyway", e)

        async def store(updates: list[dict[str, Any]]) -> None:
            await intake.receive(self.bot, [self._stored(update) for update in updates])

        poller = UpdatePoller(self.bot_api, store, self.dispatcher.resolve_used_update_types())
        self._polling = asyncio.create_task(poller.run())

    async def _greet(self) -> None:
        """Ask the Bot API who we are: a wrong token shows in the log at start, and the first paced send does
        not also pay for opening the connection (it would reach Telegram late, bunched with the next)."""
        try:
            me = await self.bot_api.get_me(request_timeout=5)
            log.info("telegram: webhook mode as @%s", me.username)
        except (TelegramAPIError, OSError, TimeoutError) as e:
            log.warning("telegram: getMe failed (%s); the webhook still takes updates", e)

    @staticmethod
    def _stored(update: dict[str, Any]) -> NewUpdate:
        chat = chat_of(update)
        return NewUpdate(str(update["update_id"]), str(chat) if chat is not None else None, update)

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)

    async def close(self) -> None:
        await self.bot_api.session.close()

    # reading a stored update ---------------------------------------------------------------

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        try:
            update = Update.model_validate(entry.raw, context={"bot": self.bot_api})
        except ValidationError as e:
            log.warning("telegram: update %s could not be read: %s", entry.update_id, e.errors()[:1])
            chat = chat_of(entry.raw)
            if chat is None:
                return None
            return InboundEvent(TELEGRAM, str(chat), EventKind.UNSUPPORTED, update_id=entry.update_id)
        sink: list[InboundEvent] = []
        await self.dispatcher.feed_update(self.bot_api, update, sink=sink)
        return sink[0] if sink else None

    def _router(self) -> Router:
        router = Router(name="core")
        router.message.register(self._on_message)
        router.callback_query.register(self._on_button)
        return router

    @staticmethod
    def _who(user: Any, update: Update) -> dict[str, Any]:
        return {"update_id": str(update.update_id), "display_name": (user.full_name if user else "")[:128],
                "locale_hint": user.language_code if user else None}

    async def _on_message(self, message: Message, event_update: Update, sink: list[InboundEvent]) -> None:
        if message.chat.type != "private":  # checked here: aiogram runs a plain filter in a thread
            return
        user = message.from_user
        account = str(message.chat.id)
        who = self._who(user, event_update)
        if message.text is not None:
            sink.append(InboundEvent.from_text(TELEGRAM, account, message.text, **who))
        elif message.contact is not None:
            own = user is not None and message.contact.user_id == user.id
            contact = SharedContact(message.contact.phone_number, own)
            sink.append(InboundEvent(TELEGRAM, account, EventKind.CONTACT, contact=contact, **who))
        elif message.photo or (message.document and (message.document.mime_type or "").startswith("image/")):
            file = message.photo[-1] if message.photo else message.document
            caption = {"text": message.caption[:4096]} if message.caption else {}  # kept with it: a ticket's words
            sink.append(await self._photo_event(account, file, {**who, **caption}))
        else:
            sink.append(InboundEvent(TELEGRAM, account, EventKind.UNSUPPORTED, **who))

    async def _photo_event(self, account: str, file: Any, who: dict[str, Any]) -> InboundEvent:
        if (file.file_size or 0) > MAX_PHOTO_BYTES:
            return InboundEvent(TELEGRAM, account, EventKind.PHOTO, attachment_error="too_large", **who)
        try:
            buffer = await self.bot_api.download(file.file_id, destination=io.BytesIO())
        except (TelegramAPIError, OSError, TimeoutError) as e:
            log.warning("photo download failed: %s", e)
            return InboundEvent(TELEGRAM, account, EventKind.PHOTO, attachment_error="download_failed", **who)
        data = buffer.getvalue() if buffer else b""
        if len(data) > MAX_PHOTO_BYTES:
            return InboundEvent(TELEGRAM, account, EventKind.PHOTO, attachment_error="too_large", **who)
        return InboundEvent(TELEGRAM, account, EventKind.PHOTO, photo=data, **who)

    async def _on_button(self, query: CallbackQuery, event_update: Update, sink: list[InboundEvent]) -> None:
        try:
            await query.answer()  # stops the button's spinner; harmless if it fails (or was answered before)
        except TelegramAPIError as e:
            log.debug("answerCallbackQuery failed: %s", e)
        chat_id = query.message.chat.id if query.message else query.from_user.id
        who = self._who(query.from_user, event_update)
        sink.append(InboundEvent.button(TELEGRAM, str(chat_id), query.data or "", **who))

    # sending -----------------------------------------------------------------------------

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        parse_mode = "HTML" if message.is_html else None
        try:
            if message.image is not None and len(message.text) <= CAPTION_LIMIT:
                await self.bot_api.send_photo(chat_id=int(account_id), photo=BufferedInputFile(
                    message.image, message.image_name or "image.png"), caption=message.text, parse_mode=parse_mode,
                    reply_markup=keyboard(message, self._web_app),
                    request_timeout=self.settings.send_timeout * 4)  # an upload
            else:
                await self.bot_api.send_message(chat_id=int(account_id), text=message.text, parse_mode=parse_mode,
                                                reply_markup=keyboard(message, self._web_app),
                                                request_timeout=self.settings.send_timeout)
            request = contact_request(message, self._web_app)
            if request is not None:  # should this part fail, the retry sends the text again: a repeat, not a gap
                await self.bot_api.send_message(chat_id=int(account_id), text=request[0], reply_markup=request[1],
                                                request_timeout=self.settings.send_timeout)
        except TelegramForbiddenError as e:
            return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=e.message)
        except TelegramRetryAfter as e:
            return DeliveryResult(DeliveryOutcome.RETRY, retry_after=float(e.retry_after), detail="429",
                                  throttled=True)
        except (TelegramNetworkError, TelegramServerError) as e:
            return DeliveryResult(DeliveryOutcome.RETRY, detail=str(e))
        except (TelegramNotFound, TelegramBadRequest) as e:
            if "chat not found" in e.message.lower() or "user is deactivated" in e.message.lower():
                return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=e.message)
            return DeliveryResult(DeliveryOutcome.FAILED, detail=e.message)
        except TelegramAPIError as e:
            return DeliveryResult(DeliveryOutcome.FAILED, detail=e.message)
        except (OSError, TimeoutError) as e:
            return DeliveryResult(DeliveryOutcome.RETRY, detail=repr(e))
        return DELIVERED


async def _sandbox(web_url: str) -> SandboxTwin:
    from bots.emulators.telegram_api import TelegramEmulator, TelegramSandboxChat

    emulator = TelegramEmulator()
    await emulator.start()
    # a bot id of its own per run: a restarted sandbox is a new bot, whose update ids never collide
    settings = TelegramSettings(_env_file=None, bot_token=f"{secrets.randbelow(10**9) + 10**9}:sandbox",
                                api_base=emulator.base_url, public_url=web_url, web_app_over_http=True)
    return SandboxTwin(settings, emulator.stop, TelegramSandboxChat(emulator), emulator)


PLUGIN = ChannelPlugin(TELEGRAM, TelegramSettings, TelegramChannel, PROFILE, _sandbox, ("aiogram.event",))
