"""A local MAX Bot API (``platform-api2.max.ru``): the paths, bodies and errors maxapi relies on, limits enforced.

``Authorization: <token>`` (no ``Bearer``) on every call; ``GET /me``, ``GET /updates`` and
``/subscriptions`` (``bots.emulators.max_updates``), ``POST /messages?user_id|chat_id``,
``POST /answers?callback_id``, ``POST /uploads`` and the upload URL it names, and the files
users send. Every refusal is ``{"code", "message"}`` with MAX's status: 400 ``proto.payload``,
401 ``verify.token``, 403 ``chat.denied`` (a person who blocked or stopped the bot), 404
``not.found``, 429 ``too.many.requests`` — the last for more than 30 requests a second on the
token, or more than 2 messages a second to one chat, answers to button presses included.

Users are scripted from Python (tests, the sandbox page): they write, start the bot from a deep
link (``max.ru/<bot>?start=<payload>``), press buttons, send photos, share their contact from a
``request_contact`` button, and stop the bot. Message ids are strings (``mid``), ``seq`` 64-bit.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from aiohttp import web

from bots.emulators.max_checks import MaxApiFault, Window, bad_payload, check_keyboard, check_text, too_many
from bots.emulators.max_updates import FeedError
from bots.emulators.max_users import BOT_ID, BOT_NAME, DIALOG_BASE, MaxMessage, ScriptedUsers, now_ms
from bots.emulators.server import LoopbackServer

MAX_UPLOAD = 50 * 1024 * 1024
BODY = web.RequestKey("body", object)  # the call's JSON body, read once by the gate
API_PATHS = ("/me", "/updates", "/subscriptions", "/messages", "/answers", "/uploads")


class MaxEmulator(ScriptedUsers, LoopbackServer):
    def __init__(self, token: str = "max-test-token", *, per_second: int = 30, per_chat: int = 2) -> None:
        ScriptedUsers.__init__(self)
        self.token = token
        self.uploads: dict[str, bytes] = {}  # upload token -> the picture the bot uploaded
        self.tickets: set[str] = set()  # upload URLs handed out and not used yet
        self.answers: dict[str, dict[str, Any]] = {}  # callback_id -> the bot's answer
        self.calls: list[tuple[float, str, dict[str, Any]]] = []  # (monotonic, "POST /messages", query and body)
        self.too_many = 0  # 429s answered by the limits (not the scripted ones)
        self.stalled: float | None = None  # every API call answered only after this many seconds
        self.per_token, self.per_chat = Window(per_second), Window(per_chat)
        LoopbackServer.__init__(self, web.Application(client_max_size=MAX_UPLOAD, middlewares=[self._api]))
        router = self.app.router
        router.add_get("/me", self._me)
        router.add_get("/updates", self._updates)
        router.add_route("*", "/subscriptions", self._subscriptions)
        router.add_post("/messages", self._messages)
        router.add_post("/answers", self._answer)
        router.add_post("/uploads", self._upload_url)
        router.add_post("/upload/{ticket}", self._upload)  # another host in MAX: no token, no rate
        router.add_get("/files/{name}", self._file)  # MAX's CDN: likewise

    def stall(self, seconds: float | None) -> None:
        """Answer every API call only after ``seconds`` (a throttled network: clients time out); None: at once again."""
        self.stalled = seconds

    @property
    def polling(self) -> bool:
        return self.feed.polls > 0 and self.feed.subscription is None

    async def stop(self) -> None:
        await self.feed.close()
        await super().stop()

    # the API's gate: token, per-token rate, errors as MAX writes them ------------------------------

    @web.middleware
    async def _api(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(API_PATHS):
            return await handler(request)
        if self.stalled is not None:
            await asyncio.sleep(self.stalled)
        try:
            if request.headers.get("Authorization") != self.token:  # the raw token: "Bearer …" is refused too
                raise MaxApiFault(401, "verify.token", "Invalid access_token")
            body: Any = None
            if request.can_read_body and request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as e:
                    raise bad_payload("the body is not JSON") from e
            self.calls.append((time.monotonic(), f"{request.method} {request.path}", {**request.query, "body": body}))
            if not self.per_token.admit(self.token):
                self.too_many += 1
                raise too_many("more than 30 requests per second")
            request[BODY] = body
            return await handler(request)
        except MaxApiFault as e:
            return web.json_response({"code": e.code, "message": e.message}, status=e.status)

    @staticmethod
    def _int(request: web.Request, name: str) -> int | None:
        value = request.query.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError as e:
            raise bad_payload(f"{name} must be an integer") from e

    def sent(self, path: str) -> list[dict[str, Any]]:
        """The bot's calls of ``"POST /messages"`` (or another), oldest first."""
        return [params for _, call, params in self.calls if call == path]

    # the bot's side ---------------------------------------------------------------------------

    async def _me(self, _: web.Request) -> web.Response:
        return web.json_response({"user_id": BOT_ID, "first_name": "Promo", "username": BOT_NAME, "is_bot": True,
                                  "last_activity_time": now_ms()})

    async def _updates(self, request: web.Request) -> web.Response:
        limit, timeout = self._int(request, "limit") or 100, self._int(request, "timeout") or 0
        if not 1 <= limit <= 1000 or not 0 <= timeout <= 90:
            raise bad_payload("limit 1-1000, timeout 0-90")
        types = set(filter(None, request.query.get("types", "").split(","))) or None
        updates, marker = await self.feed.poll(self._int(request, "marker"), limit, timeout, types)
        return web.json_response({"updates": updates, "marker": marker})

    async def _subscriptions(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            current = self.feed.subscription
            return web.json_response({"subscriptions": [current.listed()] if current else []})
        if request.method == "DELETE":
            removed = await self.feed.unsubscribe(request.query.get("url") or "")
            return web.json_response({"success": removed, **({} if removed else {"message": "no such url"})})
        if request.method != "POST":
            raise MaxApiFault(405, "method.not.allowed", request.method)
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        types = body.get("update_types")
        try:
            await self.feed.subscribe(str(body.get("url") or ""), body.get("secret"),
                                      list(types) if isinstance(types, list) else None)
        except FeedError as e:
            raise bad_payload(str(e)) from e
        return web.json_response({"success": True})

    def _recipient(self, request: web.Request) -> int:
        user, chat = self._int(request, "user_id"), self._int(request, "chat_id")
        if user is None and chat is not None and chat - DIALOG_BASE in self.users:
            user = chat - DIALOG_BASE
        if user is None:
            raise bad_payload("user_id or chat_id of a dialog is required")
        if user not in self.users:
            raise MaxApiFault(404, "not.found", f"dialog with user {user} not found")
        if user in self.blocked or user in self.stopped:
            raise MaxApiFault(403, "chat.denied", f"Key: error.dialog.suspended, args: [{user},].")
        return user

    def _chat_turn(self, user: int) -> None:
        if user in self.throttled:
            self.throttled[user] -= 1
            if self.throttled[user] <= 0:
                del self.throttled[user]
            raise too_many("scripted")
        if not self.per_chat.admit(user):
            self.too_many += 1
            raise too_many("more than 2 messages per second to one chat")

    async def _messages(self, request: web.Request) -> web.Response:
        body = request[BODY]
        if not isinstance(body, dict):
            raise bad_payload("a message body is a JSON object")
        user = self._recipient(request)
        text = check_text(body)
        buttons: list[list[dict[str, Any]]] = []
        image: bytes | None = None
        attachments = body.get("attachments") or []
        if not isinstance(attachments, list):
            raise bad_payload("attachments must be a list")
        for attachment in attachments:
            kind = attachment.get("type") if isinstance(attachment, dict) else None
            if kind == "inline_keyboard":
                buttons = check_keyboard(attachment.get("payload"))
            elif kind == "image":
                token = (attachment.get("payload") or {}).get("token")
                if token not in self.uploads:
                    raise bad_payload("image: no uploaded picture has this token")
                image = self.uploads[token]
            else:
                raise bad_payload(f"attachment type {kind!r} is not emulated")
        if not text.strip() and image is None:
            raise bad_payload("text or attachments: a message cannot be empty")
        self._chat_turn(user)
        sent = MaxMessage(f"mid.{secrets.token_hex(12)}", next(self.ids), user, text, body.get("format"), buttons,
                          image)
        self.outbox.record(user, sent)
        return web.json_response({"message": self.bot_message(sent)})

    async def _answer(self, request: web.Request) -> web.Response:
        callback = request.query.get("callback_id", "")
        if callback not in self.callbacks:
            raise MaxApiFault(404, "not.found", "callback not found")
        body = request[BODY]
        if not isinstance(body, dict) or not (body.get("message") or body.get("notification")):
            raise bad_payload("message or notification is required")  # an empty answer is a 400 in MAX
        self._chat_turn(self.callbacks[callback])
        self.answers[callback] = body
        return web.json_response({"success": True})

    @property
    def open_callbacks(self) -> list[str]:
        """Presses the bot never answered (the user's button still spins)."""
        return [c for c in self.callbacks if c not in self.answers]

    async def _upload_url(self, request: web.Request) -> web.Response:
        kind = request.query.get("type")
        if kind not in ("image", "video", "audio", "file"):
            raise bad_payload("type: image, video, audio or file")
        ticket = secrets.token_hex(8)
        self.tickets.add(ticket)
        return web.json_response({"url": f"{self.base_url}/upload/{ticket}",
                                  **({"token": f"t{ticket}"} if kind in ("video", "audio") else {})})

    async def _upload(self, request: web.Request) -> web.Response:
        ticket = request.match_info["ticket"]
        if ticket not in self.tickets:
            return web.json_response({"code": "not.found", "message": "upload url expired"}, status=404)
        form = await request.post()
        data = form.get("data")
        if not isinstance(data, web.FileField):
            return web.json_response({"code": "proto.payload", "message": "multipart field 'data'"}, status=400)
        self.tickets.discard(ticket)
        token = secrets.token_urlsafe(16)
        self.uploads[token] = data.file.read()
        return web.json_response({"photos": {secrets.token_hex(4): {"token": token}}})

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")


def _shown_buttons(rows: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [[{"label": b["text"], "payload": b.get("payload") if b["type"] == "callback" else None,
              "url": b.get("url"), "contact": b["type"] == "request_contact"} for b in row] for row in rows]


class MaxSandboxChat:
    """The sandbox page's MAX user (``bots.channel.SandboxChat``)."""

    title, first_user, shares_contact = "MAX", 3001, True

    def __init__(self, emulator: MaxEmulator) -> None:
        self.emulator = emulator

    def shown(self, user_id: int) -> list[dict[str, Any]]:
        return [{"id": m.mid, "text": m.text, "html": m.format == "html", "buttons": _shown_buttons(m.buttons)}
                for m in self.emulator.messages_to(user_id)]

    async def say(self, user_id: int, text: str) -> None:
        await self.emulator.user_text(user_id, text)

    async def press(self, user_id: int, payload: str, label: str) -> None:
        try:
            await self.emulator.user_press(user_id, payload)
        except LookupError as e:
            raise web.HTTPBadRequest(text=str(e)) from e

    async def photo(self, user_id: int, data: bytes) -> None:
        await self.emulator.user_photo(user_id, data)

    async def contact(self, user_id: int, phone: str) -> None:
        await self.emulator.user_contact(user_id, phone, own=True)

