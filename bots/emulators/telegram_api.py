"""A local Telegram Bot API: the URL shapes, envelopes, long polling, files and errors aiogram relies on.

Emulated users are scripted from Python (tests, the sandbox page): they write,
press buttons, share contacts and send photos; what the bot sends them is kept
per chat. ``block`` makes sends to a user fail with 403, ``throttle`` answers
the next sends with 429 and ``retry_after``. A ``web_app`` button must be https (or
the sandbox's loopback address); ``open_web_app`` is the launch a client opens for it.

Updates wait for ``getUpdates`` unless a webhook is set (``set_webhook`` or the
``setWebhook`` method): then each is POSTed to its URL, in order, until answered 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bots.emulators.server import LoopbackServer, Outbox, WebhookPusher
from bots.emulators.telegram_webapps import init_data, launch_url, web_app_problem

BOT_ID = 7_000_000_001
ALLOWED_HTML = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
                "tg-spoiler", "blockquote", "tg-emoji"}
MAX_UPLOAD = 50 * 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _HtmlCheck(HTMLParser):
    """Telegram refuses text with unknown or unbalanced tags: so must we, to catch escaping bugs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_HTML:
            self.error = self.error or f"Unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f"Unexpected end tag \"{tag}\""


def html_problem(text: str) -> str | None:
    checker = _HtmlCheck()
    checker.feed(text)
    checker.close()
    if checker.error is None and checker.stack:
        return f"Can't find end tag corresponding to start tag \"{checker.stack[-1]}\""
    return checker.error


@dataclass
class BotMessage:
    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    photo: bool = False
    date: int = field(default_factory=lambda: int(time.time()))


class TelegramApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


class TelegramEmulator(LoopbackServer):
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.redelivery: list[dict[str, Any]] = []
        # like Telegram's: a restarted emulator does not count from 1 again
        self.update_ids = itertools.count(int(time.time() * 1000) % 1_000_000_000)
        self.message_ids = itertools.count(1)
        self.arrived = asyncio.Condition()
        self.outbox: Outbox[BotMessage] = Outbox()
        self.files: dict[str, bytes] = {}
        self.blocked: set[int] = set()
        self.throttled: dict[int, tuple[int, int]] = {}  # chat -> (how many sends, retry_after)
        self.stalled: float | None = None  # every call answered only after this many seconds
        self.bot_token: str | None = None  # the bot's, as its calls name it: Mini App launches are signed with it
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.offset_confirmed = 0
        self.webhook: WebhookPusher | None = None
        self.closing = False
        self.rate_limit: int | None = None  # sends per second per bot, as Telegram enforces: more get 429
        self.too_many = 0  # 429s answered
        self._recent_sends: deque[float] = deque()
        super().__init__(web.Application(client_max_size=MAX_UPLOAD))
        self.app.router.add_route("*", "/bot{token}/{method}", self._method)
        self.app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self.app.router.add_get("/web_app/{user:\\d+}", self._web_app)  # the sandbox's press of a web_app button

    # lifecycle ---------------------------------------------------------------------------------

    async def stop(self) -> None:
        self.closing = True  # answer pending long polls now instead of at their timeout
        async with self.arrived:
            self.arrived.notify_all()
        await self.delete_webhook()
        await super().stop()

    # webhook delivery --------------------------------------------------------------------------

    async def set_webhook(self, url: str, secret_token: str = "", **retry: float) -> None:
        """From now on POST every pending and new update to ``url``; ``retry`` goes to ``WebhookPusher``."""
        await self.delete_webhook()
        headers = {SECRET_HEADER: secret_token} if secret_token else {}
        self.webhook = WebhookPusher(url, lambda status, _: 200 <= status < 300, headers, **retry)
        self.webhook.start(self._next_undelivered, self._delivered)

    async def delete_webhook(self) -> None:
        """Back to ``getUpdates``: what the webhook did not deliver waits there."""
        if self.webhook is not None:
            await self.webhook.stop()
            self.webhook = None

    async def _next_undelivered(self) -> dict[str, Any]:
        async with self.arrived:
            await self.arrived.wait_for(lambda: bool(self.redelivery or self.updates))
            return (self.redelivery or self.updates)[0]

    def _delivered(self, update: dict[str, Any]) -> None:
        for queue in (self.redelivery, self.updates):
            if queue and queue[0] is update:
                queue.pop(0)
                return

    # the user side -----------------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        return self.users.setdefault(user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                                               "language_code": "ru"})

    def set_user(self, user_id: int, first_name: str, language_code: str = "ru") -> None:
        self._user(user_id).update(first_name=first_name, language_code=language_code)

    async def push_update(self, update: dict[str, Any]) -> int:
        update_id = update.setdefault("update_id", next(self.update_ids))
        async with self.arrived:
            self.updates.append(update)
            self.history.append(update)
            self.arrived.notify_all()
        return int(update_id)

    async def redeliver(self, update_id: int) -> None:
        """Hand an update out again, as Telegram does when a bot died before confirming its offset."""
        original = next(u for u in self.history if u["update_id"] == update_id)
        async with self.arrived:
            self.redelivery.append(dict(original))
            self.arrived.notify_all()

    def _message(self, user_id: int, **content: Any) -> dict[str, Any]:
        user = self._user(user_id)
        return {"message_id": next(self.message_ids), "date": int(time.time()), "from": user,
                "chat": {"id": user_id, "type": "private", "first_name": user["first_name"]}, **content}

    async def user_text(self, user_id: int, text: str) -> int:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return await self.push_update({"message": self._message(user_id, **content)})

    async def user_contact(self, user_id: int, phone: str, own: bool = True) -> int:
        contact = {"phone_number": phone, "first_name": self._user(user_id)["first_name"]}
        if own:
            contact["user_id"] = user_id
        return await self.push_update({"message": self._message(user_id, contact=contact)})

    def _store_file(self, data: bytes) -> tuple[str, str]:
        file_id = f"F{secrets.token_hex(8)}"
        self.files[file_id] = data
        return file_id, file_id[1:9]

    async def user_photo(self, user_id: int, data: bytes, width: int = 1280, height: int = 960,
                         caption: str = "") -> int:
        file_id, unique = self._store_file(data)
        thumb_id, thumb_unique = self._store_file(data[:64])
        sizes = [{"file_id": thumb_id, "file_unique_id": thumb_unique, "width": 90, "height": 67, "file_size": 64},
                 {"file_id": file_id, "file_unique_id": unique, "width": width, "height": height,
                  "file_size": len(data)}]
        extra = {"caption": caption} if caption else {}
        return await self.push_update({"message": self._message(user_id, photo=sizes, **extra)})

    async def user_document(self, user_id: int, data: bytes, file_name: str, mime_type: str) -> int:
        file_id, unique = self._store_file(data)
        document = {"file_id": file_id, "file_unique_id": unique, "file_name": file_name,
                    "mime_type": mime_type, "file_size": len(data)}
        return await self.push_update({"message": self._message(user_id, document=document)})

    async def user_sticker(self, user_id: int) -> int:
        sticker = {"file_id": "S1", "file_unique_id": "S1u", "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False}
        return await self.push_update({"message": self._message(user_id, sticker=sticker)})

    async def user_press(self, user_id: int, data: str, message_id: int | None = None) -> int:
        messages = self.outbox.to(user_id)
        source = next((m for m in reversed(messages) if message_id in (None, m.message_id)), None)
        message = {"message_id": source.message_id if source else 0, "date": int(time.time()),
                   "chat": {"id": user_id, "type": "private"}, "text": source.text if source else ""}
        query = {"id": secrets.token_hex(6), "from": self._user(user_id), "chat_instance": str(user_id),
                 "message": message, "data": data}
        return await self.push_update({"callback_query": query})

    def messages_to(self, user_id: int) -> list[BotMessage]:
        return self.outbox.to(user_id)

    def open_web_app(self, user_id: int, url: str, version: str = "7.0", auth_date: int | None = None) -> str:
        """The address the user's client opens for a ``web_app`` button to ``url``: initData signed for them."""
        if self.bot_token is None:
            raise RuntimeError("no bot has called yet: there is no token to sign with")
        return launch_url(url, init_data(self.bot_token, self._user(user_id), auth_date), version)

    async def wait_for_messages(self, user_id: int, count: int, timeout: float = 10.0) -> list[BotMessage]:
        return await self.outbox.wait(user_id, count, timeout)

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def throttle(self, user_id: int, sends: int = 1, retry_after: int = 1) -> None:
        self.throttled[user_id] = (sends, retry_after)

    def stall(self, seconds: float | None) -> None:
        """Answer every call only after ``seconds`` (a throttled network: clients time out); None: at once again."""
        self.stalled = seconds

    # the Bot API side --------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            return self._error(TelegramApiError(401, "Unauthorized"))
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = value.file.read() if isinstance(value, web.FileField) else value
        method = request.match_info["method"]
        self.bot_token = token
        self.calls.append((time.monotonic(), method, params))
        if self.stalled is not None:
            await asyncio.sleep(self.stalled)
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return self._error(TelegramApiError(404, "Not Found: method not found"))
        try:
            result = await handler(params)
        except TelegramApiError as e:
            return self._error(e)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(error: TelegramApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        return web.json_response(body, status=error.code)

    async def _web_app(self, request: web.Request) -> web.Response:
        """A press of a ``web_app`` button the bot sent this user: signed now, as a client signs at each press
        (as an old client, 6.0: the sandbox's tab is no Telegram, it has no QR scanner to offer)."""
        user, url = int(request.match_info["user"]), request.query.get("url", "")
        sent = {b["web_app"]["url"] for m in self.messages_to(user) for row in (m.reply_markup or {}).get(
            "inline_keyboard") or [] for b in row if "web_app" in b}
        if url not in sent:
            raise web.HTTPNotFound(text="no such web_app button was sent to this user")
        # as it is: yarl (HTTPFound) would decode the %26 of the nested initData in the fragment
        return web.Response(status=302, headers={"Location": self.open_web_app(user, url, version="6.0")})

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["path"].removeprefix("photos/"))
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    async def _api_getme(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Promo", "username": "promo_sandbox_bot",
                "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _has_updates(self) -> bool:
        return self.closing or bool(self.updates or self.redelivery)

    async def _api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise TelegramApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                        "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        limit = int(params.get("limit") or 100)
        if offset:
            self.offset_confirmed = max(self.offset_confirmed, offset)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        async with self.arrived:
            if not (self.updates or self.redelivery) and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait_for(self._has_updates), timeout)
        batch, self.redelivery = self.redelivery + self.updates[:limit], []
        return batch

    async def _api_deletewebhook(self, _: dict[str, Any]) -> bool:
        await self.delete_webhook()
        return True

    async def _api_setwebhook(self, params: dict[str, Any]) -> bool:
        if not params.get("url"):
            await self.delete_webhook()
        else:
            await self.set_webhook(str(params["url"]), str(params.get("secret_token") or ""))
        return True

    async def _api_sendchataction(self, _: dict[str, Any]) -> bool:
        return True

    async def _api_answercallbackquery(self, _: dict[str, Any]) -> bool:
        return True

    async def _api_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise TelegramApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": file_id[1:9], "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}"}

    def _check_rate(self) -> None:
        if self.rate_limit is None:
            return
        now = time.monotonic()
        while self._recent_sends and self._recent_sends[0] <= now - 1.0:
            self._recent_sends.popleft()
        if len(self._recent_sends) >= self.rate_limit:
            self.too_many += 1
            raise TelegramApiError(429, "Too Many Requests: retry after 1", 1)
        self._recent_sends.append(now)

    def _check_recipient(self, params: dict[str, Any]) -> int:
        self._check_rate()
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError) as e:
            raise TelegramApiError(400, "Bad Request: chat_id is empty") from e
        if chat_id in self.blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.throttled:
            sends, retry_after = self.throttled[chat_id]
            if sends <= 1:
                del self.throttled[chat_id]
            else:
                self.throttled[chat_id] = (sends - 1, retry_after)
            raise TelegramApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        if chat_id not in self.users:
            raise TelegramApiError(400, "Bad Request: chat not found")
        return chat_id

    def _record(self, chat_id: int, text: str, params: dict[str, Any], photo: bool = False) -> dict[str, Any]:
        markup = params.get("reply_markup")
        parsed = json.loads(markup) if isinstance(markup, str) and markup else markup
        if problem := web_app_problem(parsed):
            raise TelegramApiError(400, problem)
        message = BotMessage(next(self.message_ids), chat_id, text, params.get("parse_mode"), parsed, photo)
        self.outbox.record(chat_id, message)
        body: dict[str, Any] = {"message_id": message.message_id, "date": message.date,
                                "chat": {"id": chat_id, "type": "private"},
                                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Promo"}}
        if photo:
            body["photo"] = [{"file_id": "P", "file_unique_id": "P", "width": 1, "height": 1}]
            if text:
                body["caption"] = text
        else:
            body["text"] = text
        return body

    async def _api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._check_recipient(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise TelegramApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise TelegramApiError(400, "Bad Request: message is too long")
        if params.get("parse_mode") == "HTML" and (problem := html_problem(text)):
            raise TelegramApiError(400, f"Bad Request: can't parse entities: {problem}")
        return self._record(chat_id, text, params)

    async def _api_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._check_recipient(params)
        if not params.get("photo"):
            raise TelegramApiError(400, "Bad Request: there is no photo in the request")
        return self._record(chat_id, str(params.get("caption") or ""), params, photo=True)


def _shown_buttons(markup: dict[str, Any] | None,
                   open_web_app: Callable[[str], str] | None = None) -> list[list[dict[str, Any]]]:
    if not markup:
        return []
    if "inline_keyboard" in markup:
        return [[{"label": b["text"], "url": open_web_app(b["web_app"]["url"]), "web_app": True}
                 if "web_app" in b and open_web_app else
                 {"label": b["text"], "payload": b.get("callback_data"), "url": b.get("url")} for b in row]
                for row in markup["inline_keyboard"]]
    return [[{"label": b["text"], "contact": bool(b.get("request_contact")), "reply": True} for b in row]
            for row in markup.get("keyboard", [])]


class TelegramSandboxChat:
    """The sandbox page's Telegram user (``bots.channel.SandboxChat``)."""

    title, first_user, shares_contact = "Telegram", 1001, True

    def __init__(self, emulator: TelegramEmulator) -> None:
        self.emulator = emulator

    def shown(self, user_id: int) -> list[dict[str, Any]]:
        # the sandbox opens a Mini App in a browser tab, through the emulator: signed when pressed (``_web_app``)
        def opened(url: str) -> str:
            return f"{self.emulator.base_url}/web_app/{user_id}?{urlencode({'url': url})}"

        return [{"id": m.message_id, "text": m.text, "html": m.parse_mode == "HTML",
                 "buttons": _shown_buttons(m.reply_markup, opened)} for m in self.emulator.messages_to(user_id)]

    async def say(self, user_id: int, text: str) -> None:
        await self.emulator.user_text(user_id, text)

    async def press(self, user_id: int, payload: str, label: str) -> None:
        await self.emulator.user_press(user_id, payload)

    async def photo(self, user_id: int, data: bytes) -> None:
        await self.emulator.user_photo(user_id, data)

    async def contact(self, user_id: int, phone: str) -> None:
        await self.emulator.user_contact(user_id, phone, own=True)
