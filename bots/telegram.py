"""Telegram through aiogram 3: updates -> ``InboundEvent``; rendered messages -> Bot API calls.

Polling by default (``bots.telegram_polling``: one unreadable update cannot stall it);
webhook mode registers aiogram's handler, which checks ``X-Telegram-Bot-Api-Secret-Token``.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
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
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bots.inflight import InFlight
from bots.telegram_polling import UpdatePoller, chat_of
from core.delivery import DELIVERED, DeliveryResult, Outcome
from core.events import Channel, EventKind, InboundEvent, OutgoingMessage, SharedContact
from core.templates import Rendered

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # the Bot API's own download limit
CALLBACK_DATA_LIMIT = 64
CAPTION_LIMIT = 1024  # longer texts go as a message without the picture
Handle = Callable[[InboundEvent], Awaitable[list[OutgoingMessage]]]


def keyboard(message: Rendered) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if not message.buttons:
        return None
    if message.asks_for_contact:
        rows = [[KeyboardButton(text=b.label, request_contact=b.kind == "contact") for b in row]
                for row in message.buttons]
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)
    rows_inline = [[InlineKeyboardButton(text=b.label, url=b.url) if b.kind == "url"
                    else InlineKeyboardButton(text=b.label, callback_data=b.payload[:CALLBACK_DATA_LIMIT])
                    for b in row] for row in message.buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows_inline)


class TelegramChannel:
    channel = Channel.TELEGRAM

    def __init__(self, token: str, api_base: str, handle: Handle) -> None:
        server = TelegramAPIServer.from_base(api_base.rstrip("/"))
        self.bot = Bot(token, session=AiohttpSession(api=server))
        self.handle = handle
        self.inflight = InFlight()
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.dispatcher.include_router(self._router())
        self.poller = UpdatePoller(self.bot, self.dispatcher, self._on_malformed)
        self._polling: asyncio.Task[None] | None = None

    # inbound ---------------------------------------------------------------------------------

    def _router(self) -> Router:
        router = Router(name="core")
        router.message.filter(F.chat.type == "private")
        router.message.register(self._on_message)
        router.callback_query.register(self._on_button)
        return router

    async def _apply(self, event: InboundEvent) -> None:
        await self.inflight.run(self.handle(event))

    @staticmethod
    def _who(user: Any, update: Update) -> dict[str, Any]:
        return {"update_id": str(update.update_id), "display_name": (user.full_name if user else "")[:128],
                "locale_hint": user.language_code if user else None}

    async def _on_message(self, message: Message, event_update: Update) -> None:
        user = message.from_user
        account = str(message.chat.id)
        who = self._who(user, event_update)
        if message.text is not None:
            await self._apply(InboundEvent.from_text(Channel.TELEGRAM, account, message.text, **who))
        elif message.contact is not None:
            own = user is not None and message.contact.user_id == user.id
            contact = SharedContact(message.contact.phone_number, own)
            await self._apply(InboundEvent(Channel.TELEGRAM, account, EventKind.CONTACT, contact=contact, **who))
        elif message.photo or (message.document and (message.document.mime_type or "").startswith("image/")):
            file = message.photo[-1] if message.photo else message.document
            await self._apply(await self._photo_event(account, file, who))
        else:
            await self._apply(InboundEvent(Channel.TELEGRAM, account, EventKind.UNSUPPORTED, **who))

    async def _photo_event(self, account: str, file: Any, who: dict[str, Any]) -> InboundEvent:
        if (file.file_size or 0) > MAX_PHOTO_BYTES:
            return InboundEvent(Channel.TELEGRAM, account, EventKind.PHOTO, attachment_error="too_large", **who)
        try:
            buffer = await self.bot.download(file.file_id, destination=io.BytesIO())
        except (TelegramAPIError, OSError, TimeoutError) as e:
            log.warning("photo download failed: %s", e)
            return InboundEvent(Channel.TELEGRAM, account, EventKind.PHOTO, attachment_error="download_failed",
                                **who)
        data = buffer.getvalue() if buffer else b""
        if len(data) > MAX_PHOTO_BYTES:
            return InboundEvent(Channel.TELEGRAM, account, EventKind.PHOTO, attachment_error="too_large", **who)
        return InboundEvent(Channel.TELEGRAM, account, EventKind.PHOTO, photo=data, **who)

    async def _on_button(self, query: CallbackQuery, event_update: Update) -> None:
        try:
            await query.answer()  # stops the button's spinner; harmless if it fails
        except TelegramAPIError as e:
            log.debug("answerCallbackQuery failed: %s", e)
        chat_id = query.message.chat.id if query.message else query.from_user.id
        who = self._who(query.from_user, event_update)
        await self._apply(InboundEvent.button(Channel.TELEGRAM, str(chat_id), query.data or "", **who))

    # polling and webhooks --------------------------------------------------------------------

    async def start_polling(self) -> None:
        try:  # polling needs no webhook; a server without this method, or not up yet, is no reason to stop
            await self.bot.delete_webhook(drop_pending_updates=False)
        except (TelegramAPIError, OSError, TimeoutError) as e:
            log.warning("telegram: deleteWebhook failed (%s); polling anyway", e)
        self._polling = asyncio.create_task(self.poller.run())

    async def _on_malformed(self, raw: dict[str, Any]) -> None:
        """An update aiogram cannot read still gets an answer, if it says which chat it came from."""
        chat = chat_of(raw)
        if chat is not None:
            await self._apply(InboundEvent(Channel.TELEGRAM, str(chat), EventKind.UNSUPPORTED,
                                           update_id=str(raw["update_id"])))

    def register_webhook(self, app: web.Application, path: str, secret: str) -> None:
        SimpleRequestHandler(self.dispatcher, self.bot, secret_token=secret).register(app, path=path)

    async def feed_webhook_update(self, update: dict[str, Any]) -> None:
        await self.dispatcher.feed_raw_update(self.bot, update)

    async def stop(self, grace: float = 10.0) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        if not await self.poller.drained(grace) or not await self.inflight.drained(grace):
            log.warning("telegram: events still running after %.0fs; they will be redelivered", grace)
        await self.bot.session.close()

    # outbound --------------------------------------------------------------------------------

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        parse_mode = "HTML" if message.is_html else None
        try:
            if message.image is not None and len(message.text) <= CAPTION_LIMIT:
                await self.bot.send_photo(chat_id=int(account_id),
                                          photo=BufferedInputFile(message.image, message.image_name or "image.png"),
                                          caption=message.text, parse_mode=parse_mode,
                                          reply_markup=keyboard(message))
            else:
                await self.bot.send_message(chat_id=int(account_id), text=message.text, parse_mode=parse_mode,
                                            reply_markup=keyboard(message))
        except TelegramForbiddenError as e:
            return DeliveryResult(Outcome.UNREACHABLE, detail=e.message)
        except TelegramRetryAfter as e:
            return DeliveryResult(Outcome.RETRY, retry_after=float(e.retry_after), detail="429")
        except (TelegramNetworkError, TelegramServerError) as e:
            return DeliveryResult(Outcome.RETRY, detail=str(e))
        except (TelegramNotFound, TelegramBadRequest) as e:
            if "chat not found" in e.message.lower() or "user is deactivated" in e.message.lower():
                return DeliveryResult(Outcome.UNREACHABLE, detail=e.message)
            return DeliveryResult(Outcome.FAILED, detail=e.message)
        except TelegramAPIError as e:
            return DeliveryResult(Outcome.FAILED, detail=e.message)
        except (OSError, TimeoutError) as e:
            return DeliveryResult(Outcome.RETRY, detail=repr(e))
        return DELIVERED
