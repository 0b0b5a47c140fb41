"""A local VK API: ``/method/<name>`` envelopes, Bots Long Poll, photo files, and errors 9 and 901.

Emulated users are scripted from Python: they write, press keyboard buttons
(the payload comes back in ``message_new``) and send photos. ``block`` makes
``messages.send`` to them fail with error 901; ``throttle`` answers with error 9.

Events are served by the long poll; with a Callback API server added (``set_callback``),
each new event is also POSTed to it, in order, until it answers ``ok``.
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
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bots.emulators.server import LoopbackServer, Outbox, WebhookPusher
from bots.emulators.vk_apps import App, launch_url, open_app_problem

GROUP_ID = 220_000_001
MAX_UPLOAD = 50 * 1024 * 1024


class VkApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class VkBotMessage:
    message_id: int
    peer_id: int
    text: str
    keyboard: dict[str, Any] | None
    random_id: int
    attachment: str = ""
    date: int = field(default_factory=lambda: int(time.time()))


class VkEmulator(LoopbackServer):
    def __init__(self, group_id: int = GROUP_ID) -> None:
        self.group_id = group_id
        self.key = secrets.token_hex(8)
        self.ts = int(time.time())  # like VK's, never restarts at 1 for a new server
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.arrived = asyncio.Condition()
        self.message_ids = itertools.count(1)
        self.conversation_ids: dict[int, itertools.count[int]] = {}
        self.outbox: Outbox[VkBotMessage] = Outbox()
        self.by_random_id: dict[tuple[int, int], VkBotMessage] = {}
        self.files: dict[str, bytes] = {}
        self.blocked: set[int] = set()
        self.throttled: dict[int, int] = {}
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        self.polling = asyncio.Event()  # set once a bot is waiting on the long poll
        self.callback: WebhookPusher | None = None
        self.callback_ts = 0  # the last event the Callback API server accepted
        self.closing = False
        self.rate_limit: int | None = None  # requests per second per community token: more get error 6
        self.too_many = 0  # errors 6 answered
        self.disallowed: set[int] = set()  # users who do not allow the community's messages
        self.names: dict[int, tuple[str, str]] = {}  # users.get: first and last name (default: User<id>)
        self.apps: dict[int, App] = {}  # Mini Apps an ``open_app`` button may open (``register_app``)
        self.users_get_error: int | None = None  # users.get answers this error code while set
        self._recent_calls: deque[float] = deque()
        super().__init__(web.Application(client_max_size=MAX_UPLOAD))
        self.app.router.add_route("*", "/method/{method}", self._method)
        self.app.router.add_route("*", "/lp", self._long_poll)
        self.app.router.add_get("/files/{name}", self._file)
        self.app.router.add_post("/upload", self._upload)
        # the sandbox's press of an open_app button
        self.app.router.add_get("/open_app/{user:\\d+}/{app_id:\\d+}", self._open_app)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/method/"

    async def stop(self) -> None:
        self.closing = True  # answer pending long polls now instead of at their timeout
        async with self.arrived:
            self.arrived.notify_all()
        await self.remove_callback()
        await super().stop()

    # Callback API delivery ---------------------------------------------------------------------

    async def set_callback(self, url: str, secret: str, **retry: float) -> None:
        """POST events from now on to ``url`` with ``secret``; ``retry`` goes to ``WebhookPusher`` (pauses, timeout)."""
        await self.remove_callback()
        self.callback_ts = self.ts
        self.callback = WebhookPusher(url, lambda status, body: status == 200 and body == "ok", **retry)
        self.callback.start(lambda: self._next_for_callback(secret), self._accepted_by_callback)

    async def remove_callback(self) -> None:
        if self.callback is not None:
            await self.callback.stop()
            self.callback = None

    async def _next_for_callback(self, secret: str) -> dict[str, Any]:
        async with self.arrived:
            await self.arrived.wait_for(lambda: self.ts > self.callback_ts)
            event = next(event for t, event in self.events if t > self.callback_ts)
        return {**event, "secret": secret}

    def _accepted_by_callback(self, _event: dict[str, Any]) -> None:
        self.callback_ts = next(t for t, _ in self.events if t > self.callback_ts)

    # the user side -----------------------------------------------------------------------------

    async def _push(self, user_id: int, text: str, payload: str | None = None,
                    attachments: list[dict[str, Any]] | None = None, ref: str | None = None) -> int:
        counter = self.conversation_ids.setdefault(user_id, itertools.count(1))
        message: dict[str, Any] = {
            "date": int(time.time()), "from_id": user_id, "peer_id": user_id, "id": next(self.message_ids),
            "out": 0, "text": text, "attachments": attachments or [], "conversation_message_id": next(counter),
            "fwd_messages": [], "important": False, "is_hidden": False, "random_id": 0, "version": 1,
        }
        if payload is not None:
            message["payload"] = payload
        if ref is not None:  # VK adds these to the first message after a vk.me/<group>?ref=… link
            message["ref"], message["ref_source"] = ref, "pack"
        event = {"group_id": self.group_id, "type": "message_new", "event_id": secrets.token_hex(20),
                 "v": "5.199", "object": {"message": message, "client_info": {
                     "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
                     "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}}}
        async with self.arrived:
            self.ts += 1
            self.events.append((self.ts, event))
            self.arrived.notify_all()
        return int(message["id"])

    async def redeliver_last(self) -> None:
        """Send the last event again under a new ts, as VK does after a failed long-poll answer."""
        async with self.arrived:
            self.ts += 1
            self.events.append((self.ts, self.events[-1][1]))
            self.arrived.notify_all()

    async def user_text(self, user_id: int, text: str) -> int:
        return await self._push(user_id, text)

    async def user_start(self, user_id: int, ref: str) -> int:
        """The person followed ``vk.me/<group>?ref=<ref>`` and pressed «Начать»."""
        return await self._push(user_id, "Начать", payload='{"command":"start"}', ref=ref)

    async def user_press(self, user_id: int, payload: str, label: str = "") -> int:
        """A keyboard text button: its label arrives as text and its payload beside it."""
        return await self._push(user_id, label, payload=payload)

    async def user_photo(self, user_id: int, data: bytes, text: str = "") -> int:
        photo_id = next(self.message_ids)
        small, large = f"{photo_id}_s.jpg", f"{photo_id}_w.jpg"
        self.files[small], self.files[large] = data[:64], data
        sizes = [{"type": "s", "url": f"{self.base_url}/files/{small}", "width": 75, "height": 56},
                 {"type": "w", "url": f"{self.base_url}/files/{large}", "width": 1280, "height": 960}]
        photo = {"id": photo_id, "owner_id": user_id, "album_id": -3, "date": int(time.time()),
                 "access_key": secrets.token_hex(6), "sizes": sizes}
        return await self._push(user_id, text, attachments=[{"type": "photo", "photo": photo}])

    async def user_document(self, user_id: int, data: bytes, file_name: str = "receipt.jpg") -> int:
        """A file sent as a document (a picture "without compression"): VK's ``doc`` attachment."""
        doc_id = next(self.message_ids)
        ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
        name = f"doc{doc_id}.{ext or 'bin'}"
        self.files[name] = data
        image = ext in ("jpg", "jpeg", "png", "gif", "webp", "bmp")
        doc = {"id": doc_id, "owner_id": user_id, "title": file_name, "size": len(data), "ext": ext,
               "date": int(time.time()), "type": (3 if ext == "gif" else 4) if image else 8,
               "url": f"{self.base_url}/files/{name}", "access_key": secrets.token_hex(6)}
        return await self._push(user_id, "", attachments=[{"type": "doc", "doc": doc}])

    def set_user(self, user_id: int, first_name: str, last_name: str = "") -> None:
        """The name ``users.get`` gives for ``user_id``."""
        self.names[user_id] = (first_name, last_name)

    async def user_sticker(self, user_id: int) -> int:
        sticker = {"type": "sticker", "sticker": {"inner_type": "base_sticker_new", "sticker_id": 1,
                                                  "product_id": 1, "images": [], "is_allowed": True}}
        return await self._push(user_id, "", attachments=[sticker])

    def messages_to(self, user_id: int) -> list[VkBotMessage]:
        return self.outbox.to(user_id)

    def register_app(self, app_id: int, secret: str, url: str) -> None:
        """A Mini App as its developer set it up at VK: its id, protected key and the address VK opens."""
        self.apps[app_id] = App(app_id, secret, url)

    def open_app(self, user_id: int, app_id: int, hash_: str = "", **launch: Any) -> str:
        """The address the user's client opens for an ``open_app`` button: launch parameters signed for them
        (``ts``, ``platform`` as ``vk_apps.launch_params`` takes them)."""
        return launch_url(self.apps[app_id], user_id, hash_, **launch)

    async def wait_for_messages(self, user_id: int, count: int, timeout: float = 10.0) -> list[VkBotMessage]:
        return await self.outbox.wait(user_id, count, timeout)

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def throttle(self, user_id: int, sends: int = 1) -> None:
        self.throttled[user_id] = sends

    # the API side ------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            params.update({k: v for k, v in form.items() if not isinstance(v, web.FileField)})
        return params

    async def _method(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        method = request.match_info["method"]
        self.calls.append((time.monotonic(), method, params))
        if not params.get("access_token"):
            return self._error(VkApiError(5, "User authorization failed: no access_token passed."), params)
        handler = getattr(self, "_api_" + method.replace(".", "_").lower(), None)
        if self._over_rate():
            return self._error(VkApiError(6, "Too many requests per second"), params)
        if handler is None:
            return self._error(VkApiError(3, "Unknown method passed"), params)
        try:
            return web.json_response({"response": await handler(params)})
        except VkApiError as e:
            return self._error(e, params)

    def _over_rate(self) -> bool:
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        while self._recent_calls and self._recent_calls[0] <= now - 1.0:
            self._recent_calls.popleft()
        if len(self._recent_calls) >= self.rate_limit:
            self.too_many += 1
            return True
        self._recent_calls.append(now)
        return False

    @staticmethod
    def _error(error: VkApiError, params: dict[str, Any]) -> web.Response:
        request_params = [{"key": k, "value": str(v)} for k, v in params.items() if k != "access_token"]
        return web.json_response({"error": {"error_code": error.code, "error_msg": error.message,
                                             "request_params": request_params}})

    async def _long_poll(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if params.get("key") != self.key:
            return web.json_response({"failed": 2})
        try:
            ts = int(params.get("ts", 0))
        except ValueError:
            return web.json_response({"failed": 1, "ts": str(self.ts)})
        if ts > self.ts:  # a ts this server never gave out: VK says the history is lost
            return web.json_response({"failed": 1, "ts": str(self.ts)})
        wait = min(float(params.get("wait") or 25), 90.0)
        self.polling.set()
        async with self.arrived:
            if not any(t > ts for t, _ in self.events):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait_for(
                        lambda: self.closing or any(t > ts for t, _ in self.events)), wait)
        fresh = [event for t, event in self.events if t > ts]
        return web.json_response({"ts": str(self.ts), "updates": fresh})

    async def _open_app(self, request: web.Request) -> web.Response:
        """A press of an ``open_app`` button: launch parameters signed now, as VK's desktop site opens the app
        (which has no code reader there: the page offers the camera or a photo)."""
        app_id = int(request.match_info["app_id"])
        if app_id not in self.apps:
            raise web.HTTPNotFound(text="no such Mini App")
        opened = self.open_app(int(request.match_info["user"]), app_id, request.query.get("hash", ""),
                               platform="desktop_web")
        return web.Response(status=302, headers={"Location": opened})  # as it is, as VK's own link would be

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        photo = form.get("photo") or form.get("file")
        if not isinstance(photo, web.FileField):
            return web.json_response({"server": 1, "photo": "[]", "hash": ""})
        name = f"up{next(self.message_ids)}.jpg"
        self.files[name] = photo.file.read()
        return web.json_response({"server": 1, "photo": json.dumps([{"name": name}]), "hash": secrets.token_hex(8)})

    async def _api_groups_getbyid(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"groups": [{"id": self.group_id, "name": "Promo", "screen_name": f"club{self.group_id}",
                            "is_closed": 0, "type": "group"}], "profiles": []}

    async def _api_groups_getlongpollserver(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"server": f"{self.base_url}/lp", "key": self.key, "ts": str(self.ts)}

    async def _api_users_get(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """As VK answers: a list of ``{id, first_name, last_name, can_access_closed, is_closed}``, in the order
        asked, unknown ids left out."""
        if self.users_get_error is not None:
            raise VkApiError(self.users_get_error, "Internal server error")
        ids = [int(i) for i in str(params.get("user_ids", "")).split(",") if i.strip().lstrip("-").isdigit()]
        return [{"id": i, "first_name": self.names.get(i, (f"User{i}", ""))[0],
                 "last_name": self.names.get(i, ("", ""))[1], "can_access_closed": True, "is_closed": False}
                for i in ids if i > 0]

    async def _api_photos_getmessagesuploadserver(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"upload_url": f"{self.base_url}/upload", "album_id": -3, "group_id": self.group_id}

    async def _api_photos_savemessagesphoto(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        uploaded = json.loads(params.get("photo") or "[]")
        if not uploaded:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: photo is undefined")
        photo_id = next(self.message_ids)
        return [{"id": photo_id, "owner_id": -self.group_id, "album_id": -3, "date": int(time.time()),
                 "access_key": secrets.token_hex(6),
                 "sizes": [{"type": "w", "url": f"{self.base_url}/files/{uploaded[0]['name']}",
                            "width": 1, "height": 1}]}]

    async def _api_messages_ismessagesfromgroupallowed(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            user_id = int(params.get("user_id") or 0)
        except ValueError as e:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: user_id") from e
        allowed = user_id not in self.disallowed and user_id not in self.blocked
        return {"is_allowed": int(allowed)}

    def _deliver_one(self, peer_id: int, params: dict[str, Any]) -> VkBotMessage:
        if peer_id in self.blocked:
            raise VkApiError(901, "Can't send messages for users without permission")
        if peer_id in self.throttled:
            self.throttled[peer_id] -= 1
            if self.throttled[peer_id] <= 0:
                del self.throttled[peer_id]
            raise VkApiError(9, "Flood control: too much messages sent to user")
        random_id = int(params.get("random_id") or 0)
        if random_id and (peer_id, random_id) in self.by_random_id:
            return self.by_random_id[(peer_id, random_id)]  # VK's idempotency: same random_id, same message
        text = str(params.get("message") or "")
        if not text and not params.get("attachment"):
            raise VkApiError(100, "One of the parameters specified was missing or invalid: message is empty")
        raw_keyboard = params.get("keyboard")
        keyboard = json.loads(raw_keyboard) if raw_keyboard else None
        for row in (keyboard or {}).get("buttons", []):
            for button in row:
                action = button.get("action", {})
                if len(action.get("label", "")) > 40:
                    raise VkApiError(911, "Keyboard format is invalid: label is too long")
                if problem := open_app_problem(action, self.apps):
                    raise VkApiError(911, problem)
                if "payload" in action and not isinstance(action["payload"], str):
                    action["payload"] = json.dumps(action["payload"], ensure_ascii=False)  # VK keeps it a string
        message = VkBotMessage(next(self.message_ids), peer_id, text, keyboard, random_id,
                               str(params.get("attachment") or ""))
        self.outbox.record(peer_id, message)
        if random_id:
            self.by_random_id[(peer_id, random_id)] = message
        return message

    async def _api_messages_send(self, params: dict[str, Any]) -> Any:
        if "random_id" not in params:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: random_id is required")
        if params.get("peer_ids"):
            answers = []
            for peer in str(params["peer_ids"]).split(","):
                try:
                    message = self._deliver_one(int(peer), params)
                    answers.append({"peer_id": int(peer), "message_id": message.message_id,
                                    "conversation_message_id": message.message_id})
                except VkApiError as e:
                    answers.append({"peer_id": int(peer), "error": {"code": e.code, "description": e.message}})
            return answers
        try:
            peer_id = int(params.get("peer_id") or params.get("user_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError) as e:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: peer_id") from e
        return self._deliver_one(peer_id, params).message_id


def _shown_buttons(keyboard: dict[str, Any] | None,
                   open_app: Callable[[int, str], str] | None = None) -> list[list[dict[str, Any]]]:
    rows = []
    for row in (keyboard or {}).get("buttons", []):
        shaped = []
        for button in row:
            action = button.get("action", {})
            if action.get("type") == "open_link":
                shaped.append({"label": action.get("label", ""), "url": action.get("link")})
            elif action.get("type") == "open_app" and open_app is not None:
                shaped.append({"label": action.get("label", ""), "url": open_app(action["app_id"],
                                                                                  action.get("hash") or ""),
                               "web_app": True})
            else:
                shaped.append({"label": action.get("label", ""), "payload": action.get("payload")})
        rows.append(shaped)
    return rows


class VkSandboxChat:
    """The sandbox page's VK user (``bots.channel.SandboxChat``): VK has no contact sharing."""

    title, first_user, shares_contact = "VK", 2001, False

    def __init__(self, emulator: VkEmulator) -> None:
        self.emulator = emulator

    def shown(self, user_id: int) -> list[dict[str, Any]]:
        # the sandbox opens a Mini App in a browser tab, through the emulator: signed when pressed (``_open_app``)
        def opened(app_id: int, hash_: str) -> str:
            return f"{self.emulator.base_url}/open_app/{user_id}/{app_id}?{urlencode({'hash': hash_})}"

        return [{"id": m.message_id, "text": m.text, "html": False, "buttons": _shown_buttons(m.keyboard, opened)}
                for m in self.emulator.messages_to(user_id)]

    async def say(self, user_id: int, text: str) -> None:
        await self.emulator.user_text(user_id, text)

    async def press(self, user_id: int, payload: str, label: str) -> None:
        await self.emulator.user_press(user_id, payload, label)

    async def photo(self, user_id: int, data: bytes) -> None:
        await self.emulator.user_photo(user_id, data)

    async def contact(self, user_id: int, phone: str) -> None:
        raise ValueError("VK has no contact sharing")
