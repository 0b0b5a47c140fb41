"""A local OK Graph API for group messages: ``/graph/...`` with ``access_token``, webhook and long-polling
subscriptions, sends with inline keyboards and images, callback answers, file up- and downloads, OK's errors.

Emulated people are scripted from Python: they write, open the chat from a link with a start parameter,
press CALLBACK buttons of messages they were sent, and send photos; what the group sends them is kept
per person. ``block`` makes sends to a person fail as OK refuses a person who forbade the group's messages.

Errors come as OK's do: HTTP 200, an ``invocation-error`` header and ``{"error_code", "error_msg", "error_data"}``.
Where OK's Graph docs name no code, the code is the one OK's error table gives the case [I]: 10 PERMISSION_DENIED
(the person blocked the group), 300 NOT_FOUND (a chat the group never had), 8 FLOOD_BLOCKED (over the rate),
100 PARAM (a bad request), 102 PARAM_SESSION_EXPIRED (a wrong token), 3 METHOD (no such method).
The rate limit is per group and strict: at most ``rate_limit`` Graph calls in any sliding second, the long
poll aside [I: OK documents none; 10/s is this platform's assumption].
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bots.emulators.server import LoopbackServer, Outbox, WebhookPusher

GROUP_ID = "group:70000000000001"
TOKEN = "tkn1-ok-emulator:group-token"
MAX_TEXT, MAX_LABEL, MAX_ATTACHMENTS = 4000, 40, 5  # [I], as bots.ok assumes them
BUTTON_TYPES = {"CALLBACK", "LINK", "REQUEST_CONTACT", "REQUEST_GEO_LOCATION"}
RATE = 10


class OkApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _param(why: str) -> OkApiError:
    return OkApiError(100, f"PARAM : {why}")


@dataclass
class OkMessage:
    mid: str
    seq: int
    chat_id: str
    text: str
    keyboard: list[list[dict[str, Any]]] | None
    image: bytes | None = None

    def has_button(self, payload: str) -> bool:
        return any(b.get("type") == "CALLBACK" and b.get("payload") == payload for row in self.keyboard or []
                   for b in row)


class OkEmulator(LoopbackServer):
    def __init__(self, group_id: str = GROUP_ID, token: str = TOKEN) -> None:
        self.group_id, self.token = group_id, token
        self._chat_prefix = f"chat:C{int(group_id.removeprefix('group:')) % 16**6:06x}"
        self.events: list[dict[str, Any]] = []  # every update, oldest first; an update's marker is its position
        self.arrived = asyncio.Condition()
        self.seqs = itertools.count(int(time.time() * 1000) % 10**12)  # like OK's, never 1 again after a restart
        self.outbox: Outbox[OkMessage] = Outbox()
        self.users: set[int] = set()  # people who opened a chat with the group
        self.blocked: set[int] = set()
        self.open_callbacks: dict[str, int] = {}  # callbackId -> the person who pressed
        self.answers: dict[str, str] = {}  # callbackId -> the text the group answered it with
        self.files: dict[str, bytes] = {}  # what people sent (downloads) and the group uploaded (by token)
        self.tickets: set[str] = set()
        self.webhooks: dict[str, tuple[WebhookPusher, int]] = {}  # url -> (its pusher, subscribed at, ms)
        self.long_polling = False  # a long-polling subscription exists: ``GET /graph/me/updates`` answers
        self.polling = asyncio.Event()  # set once a bot waits on the long poll
        self.closing = False
        self.calls: list[tuple[float, str, str, dict[str, Any]]] = []  # (at, verb, path, body)
        self.rate_limit: int | None = RATE
        self.too_many = 0
        self._recent: deque[float] = deque()
        super().__init__(web.Application(client_max_size=50 * 1024 * 1024))
        self.app.router.add_route("*", "/graph/{path:.+}", self._graph)
        self.app.router.add_get("/files/{name}", self._file)
        self.app.router.add_post("/upload/{ticket}", self._upload)

    async def stop(self) -> None:
        self.closing = True  # answer pending long polls now instead of at their timeout
        async with self.arrived:
            self.arrived.notify_all()
        for url in list(self.webhooks):
            await self.unsubscribe(url)
        await super().stop()

    # subscriptions -----------------------------------------------------------------------------

    async def subscribe(self, url: str, **retry: float) -> None:
        """POST every update from now on to ``url`` until answered 200, as ``/graph/me/subscribe`` does."""
        if url in self.webhooks:
            return
        position = [len(self.events)]

        async def next_update() -> dict[str, Any]:
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.events) > position[0])
                return self.events[position[0]]

        def delivered(_: dict[str, Any]) -> None:
            position[0] += 1

        pusher = WebhookPusher(url, lambda status, _: status == 200, **retry)
        self.webhooks[url] = (pusher, int(time.time() * 1000))
        pusher.start(next_update, delivered)

    async def unsubscribe(self, url: str) -> bool:
        found = self.webhooks.pop(url, None)
        if found is not None:
            await found[0].stop()
        return found is not None

    # the people's side -------------------------------------------------------------------------

    def chat_of(self, user: int) -> str:
        return f"{self._chat_prefix}{user:x}"

    def _user_of(self, chat: object) -> int | None:
        if not isinstance(chat, str) or not chat.startswith(self._chat_prefix):
            return None
        with contextlib.suppress(ValueError):
            return int(chat.removeprefix(self._chat_prefix), 16)
        return None

    async def _push(self, user: int, kind: str, **content: Any) -> dict[str, Any]:
        self.users.add(user)
        update = {"webhookType": kind, "sender": {"user_id": f"user:{user}", "name": f"User{user}"},
                  "recipient": {"chat_id": self.chat_of(user)}, "timestamp": int(time.time() * 1000), **content}
        async with self.arrived:
            self.events.append(update)
            self.arrived.notify_all()
        return update

    async def _message(self, user: int, text: str, attachments: list[dict[str, Any]] | None = None) -> str:
        seq = next(self.seqs)
        message: dict[str, Any] = {"text": text, "seq": seq, "mid": f"mid:{self.chat_of(user)[5:]}.{seq:x}"}
        if attachments:
            message["attachments"] = attachments
        await self._push(user, "MESSAGE_CREATED", message=message)
        return str(message["mid"])

    async def user_text(self, user: int, text: str) -> str:
        return await self._message(user, text)

    async def user_start(self, user: int, payload: str) -> None:
        """The person opened the chat from a link carrying ``payload``. OK's docs show this system message, but
        the stored copy ends before its example: the top-level ``payload``, as in a callback's, is our guess."""
        await self._push(user, "CHAT_SYSTEM", payload=payload)

    async def user_press(self, user: int, payload: str, message_id: str | None = None) -> str:
        """Press the CALLBACK button with ``payload`` on message ``message_id`` (default: the latest that has it)."""
        source = next((m for m in reversed(self.outbox.to(user))
                       if message_id in (None, m.mid) and m.has_button(payload)), None)
        if source is None:
            raise LookupError(f"no message to user {user} has a button with payload {payload!r}")
        callback = secrets.token_hex(8)
        self.open_callbacks[callback] = user
        await self._push(user, "MESSAGE_CALLBACK", callbackId=callback, payload=payload)
        return callback

    async def user_photo(self, user: int, data: bytes, text: str = "") -> str:
        name = f"{secrets.token_hex(6)}.jpg"
        self.files[name] = data
        image = {"type": "IMAGE", "payload": {"id": name[:12], "url": f"{self.base_url}/files/{name}"}}
        return await self._message(user, text, [image])

    async def user_sticker(self, user: int) -> str:
        return await self._message(user, "", [{"type": "STICKER", "payload": {"id": "1", "url": ""}}])

    def block(self, user: int) -> None:
        self.blocked.add(user)

    def messages_to(self, user: int) -> list[OkMessage]:
        return self.outbox.to(user)

    async def wait_for_messages(self, user: int, count: int, timeout: float = 10.0) -> list[OkMessage]:
        return await self.outbox.wait(user, count, timeout)

    # the Graph API side ------------------------------------------------------------------------

    async def _graph(self, request: web.Request) -> web.Response:
        verb, path = request.method, request.match_info["path"]
        body: dict[str, Any] = {}
        try:
            if request.method == "POST":
                if request.content_type != "application/json":
                    raise _param("Content-Type must be application/json;charset=utf-8")
                try:
                    body = json.loads(await request.text())
                except ValueError as e:
                    raise _param("the body is not JSON") from e
                if not isinstance(body, dict):
                    raise _param("the body is not a JSON object")
            self.calls.append((time.monotonic(), verb, path, body))
            token = request.query.get("access_token")
            if not token:
                raise _param("Missing required parameter access_token")
            if token != self.token:
                raise OkApiError(102, "PARAM_SESSION_EXPIRED : Session expired")
            if path != "me/updates":  # a held long poll is no burst; what is counted is our assumption [I]
                self._check_rate()
            return web.json_response(await self._dispatch(verb, path, request.query, body))
        except OkApiError as e:
            return web.json_response({"error_code": e.code, "error_msg": e.message, "error_data": None},
                                     headers={"invocation-error": str(e.code)})

    def _check_rate(self) -> None:
        if self.rate_limit is None:
            return
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            self.too_many += 1
            raise OkApiError(8, "FLOOD_BLOCKED : Method execution is blocked due to flood")
        self._recent.append(now)

    async def _dispatch(self, verb: str, path: str, query: Any, body: dict[str, Any]) -> dict[str, Any]:
        if (verb, path) == ("GET", "me/info"):
            return {"name": "Promo", "group_id": self.group_id}
        if (verb, path) == ("GET", "me/subscriptions"):
            return {"subscriptions": [{"time": at, "url": url} for url, (_, at) in self.webhooks.items()]}
        if (verb, path) == ("POST", "me/subscribe"):
            if body.get("longPolling") is True:
                self.long_polling = True
            elif isinstance(body.get("url"), str) and body["url"].startswith(("http://", "https://")):
                await self.subscribe(body["url"])
            else:
                raise _param("url must be an http: or https: URL")
            return {"success": True}
        if (verb, path) == ("POST", "me/unsubscribe"):
            return {"success": await self.unsubscribe(str(body.get("url")))}
        if (verb, path) == ("GET", "me/updates"):
            return await self._updates(query)
        if (verb, path) == ("GET", "me/fileUploadUrl"):
            ticket = secrets.token_hex(8)
            self.tickets.add(ticket)
            return {"url": f"{self.base_url}/upload/{ticket}"}
        if verb == "POST" and path.startswith("me/messages/"):
            return self._send(path.removeprefix("me/messages/"), body)
        if verb == "POST" and path.endswith("/answer"):
            return self._answer(path.removesuffix("/answer"), query.get("callbackId"), body)
        raise OkApiError(3, "METHOD : Method does not exist")

    async def _updates(self, query: Any) -> dict[str, Any]:
        """Long polling; its answer is not in OK's stored docs: ``{"marker", "updates"}`` as events.updates' [I]."""
        if not self.long_polling:
            raise _param("no long polling subscription")
        try:
            marker = int(query.get("marker") or 0)  # no marker: every update this server holds
            count = max(1, min(int(query.get("count") or 100), 100))
            timeout = max(0.0, min(float(query.get("timeout") or 0), 60.0))
        except ValueError as e:
            raise _param("marker, count and timeout are numbers") from e
        if not 0 <= marker <= len(self.events):  # a marker this server never gave out: from the start again
            marker = 0
        self.polling.set()
        async with self.arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait_for(lambda: self.closing or len(self.events) > marker),
                                       timeout)
        batch = self.events[marker:marker + count]
        return {"marker": str(marker + len(batch)), "updates": batch}

    def _send(self, chat: str, body: dict[str, Any]) -> dict[str, Any]:
        recipient = body.get("recipient") if isinstance(body.get("recipient"), dict) else {}
        if recipient.get("chat_id") != chat:
            raise _param("recipient.chat_id must name the chat of the path")
        user = self._user_of(chat)
        if user is None or user not in self.users:
            raise OkApiError(300, "NOT_FOUND : Chat not found")
        if user in self.blocked:
            raise OkApiError(10, "PERMISSION_DENIED : The user does not allow messages from the group")
        message = body.get("message")
        if not isinstance(message, dict):
            raise _param("message must be present")
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if len(text) > MAX_TEXT:
            raise _param(f"message text is longer than {MAX_TEXT} characters")
        attachments = [message["attachment"]] if isinstance(message.get("attachment"), dict) else []
        attachments += [a for a in message.get("attachments") or [] if isinstance(a, dict)]
        if len(attachments) > MAX_ATTACHMENTS:
            raise _param(f"at most {MAX_ATTACHMENTS} attachments")
        keyboard, image = None, None
        for attachment in attachments:
            payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
            if attachment.get("type") == "IMAGE" and payload.get("token") in self.files:
                image = self.files[payload["token"]]
            elif attachment.get("type") == "INLINE_KEYBOARD":
                keyboard = self._keyboard(payload)
            else:
                raise _param(f"unsupported attachment {str(attachment.get('type'))[:20]!r} or unknown image token")
        if not text.strip() and image is None:
            raise _param("message is empty")
        seq = next(self.seqs)
        sent = OkMessage(f"mid:{chat[5:]}.{seq:x}", seq, chat, text, keyboard, image)
        self.outbox.record(user, sent)
        return {"success": True, "message_id": sent.mid}

    @staticmethod
    def _keyboard(payload: dict[str, Any]) -> list[list[dict[str, Any]]]:
        board = payload.get("keyboard")
        rows = board.get("buttons") if isinstance(board, dict) else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
            raise _param("keyboard.buttons must be rows of buttons")
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES:
                raise _param("button type must be one of " + ", ".join(sorted(BUTTON_TYPES)))
            label = button.get("text")
            if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL:
                raise _param(f"button text must be 1-{MAX_LABEL} characters")
            if button["type"] == "CALLBACK" and not (isinstance(button.get("payload"), str) and button["payload"]):
                raise _param("a CALLBACK button needs a payload")
            if button["type"] == "LINK" and not str(button.get("url", "")).startswith(("http://", "https://")):
                raise _param("a LINK button needs an http(s) url")
        return rows

    def _answer(self, chat: str, callback: object, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(callback, str) or self.open_callbacks.get(callback) != self._user_of(chat):
            raise _param("callbackId is unknown, already answered or of another chat")
        message = body.get("message")
        if not isinstance(message, dict) or not str(message.get("text") or "").strip():
            raise _param("message must be present")  # OK's graph.chat.answer: the answer carries a message
        del self.open_callbacks[callback]
        self.answers[callback] = str(message["text"])
        return {"success": True}

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")

    async def _upload(self, request: web.Request) -> web.Response:
        if request.match_info["ticket"] not in self.tickets:
            return web.json_response({"error_code": 100, "error_msg": "PARAM : unknown upload url"})
        self.tickets.discard(request.match_info["ticket"])
        form = await request.post()
        upload = next((v for v in form.values() if isinstance(v, web.FileField)), None)
        if upload is None:
            return web.json_response({"error_code": 100, "error_msg": "PARAM : no file in the request"})
        token = secrets.token_urlsafe(12)
        self.files[token] = upload.file.read()
        # OK's photo upload answers {"photos": {<id>: {"token"}}}; that Graph uploads answer alike is our guess [I]
        return web.json_response({"photos": {token[:8]: {"token": token}}})


def _shown_buttons(keyboard: list[list[dict[str, Any]]] | None) -> list[list[dict[str, Any]]]:
    return [[{"label": b["text"], "url": b["url"]} if b.get("type") == "LINK" else
             {"label": b["text"], "payload": b.get("payload")} for b in row] for row in keyboard or []]


class OkSandboxChat:
    """The sandbox page's OK user (``bots.channel.SandboxChat``): no contact sharing offered."""

    title, first_user, shares_contact = "OK", 4001, False

    def __init__(self, emulator: OkEmulator) -> None:
        self.emulator = emulator

    def shown(self, user_id: int) -> list[dict[str, Any]]:
        return [{"id": m.seq, "text": m.text, "html": False, "buttons": _shown_buttons(m.keyboard)}
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
        raise ValueError("the OK sandbox offers no contact sharing")
