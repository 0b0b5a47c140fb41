"""The sandbox page: chat with the bots as a user of each emulated messenger, one column per channel.

The emulators keep what the bots sent; what the person sent is kept here (``said``), each with how many bot
messages were on screen when it was sent, so a reloaded page shows the conversation as it went.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from bots.channel import SandboxChat

PAGE = Path(__file__).with_name("static") / "sandbox.html"
MAX_PHOTO = 20 * 1024 * 1024
MAX_TEXT = 4096
SAID_KEPT = 500  # a person's own messages kept per column
PEOPLE_KEPT = 1000  # columns (messenger and user) whose messages are kept


def sandbox_routes(chats: Mapping[str, SandboxChat]) -> list[web.AbstractRouteDef]:
    said: OrderedDict[tuple[str, int], list[dict[str, Any]]] = OrderedDict()

    def note(request: web.Request, who: int, after: int, text: str) -> None:
        """What the person sent, once ``after`` bot messages were shown to them."""
        key = (request.match_info["channel"], who)
        kept = said.setdefault(key, [])
        said.move_to_end(key)
        kept.append({"text": text, "after": after})
        del kept[:-SAID_KEPT]
        while len(said) > PEOPLE_KEPT:
            said.popitem(last=False)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html")

    async def channels(_: web.Request) -> web.Response:
        return web.json_response([{"name": name, "title": chat.title, "user": chat.first_user,
                                   "contact": chat.shares_contact} for name, chat in chats.items()])

    def chat_and_user(request: web.Request) -> tuple[SandboxChat, int]:
        chat = chats.get(request.match_info["channel"])
        if chat is None:
            raise web.HTTPNotFound(text="no such channel in the sandbox")
        try:
            value = int(request.match_info["user"])
        except ValueError as e:
            raise web.HTTPBadRequest(text="user must be a number") from e
        if not 0 < value < 2**40:
            raise web.HTTPBadRequest(text="user out of range")
        return chat, value

    async def messages(request: web.Request) -> web.Response:
        chat, who = chat_and_user(request)
        return web.json_response(chat.shown(who))

    async def own(request: web.Request) -> web.Response:
        """The person's own messages: ``{"text", "after"}``, ``after`` the number of bot messages before it."""
        _, who = chat_and_user(request)
        return web.json_response(said.get((request.match_info["channel"], who), []))

    async def act(request: web.Request) -> web.Response:
        (chat, who), action = chat_and_user(request), request.match_info["action"]
        on_screen = len(chat.shown(who))
        if action == "photo":
            form = await request.post()
            upload = form.get("photo")
            if not isinstance(upload, web.FileField):
                raise web.HTTPBadRequest(text="пришлите картинку в поле 'photo'")
            data = upload.file.read(MAX_PHOTO + 1)
            if len(data) > MAX_PHOTO:
                raise web.HTTPRequestEntityTooLarge(MAX_PHOTO, len(data), text="картинка больше 20 МБ")
            await chat.photo(who, data)
            note(request, who, on_screen, f"📷 {upload.filename or 'фото'}")
            return web.json_response({"ok": True})
        try:
            body = await request.json()
        except ValueError as e:
            raise web.HTTPBadRequest(text="expected JSON") from e
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        if action == "text":
            text = str(body.get("text", ""))[:MAX_TEXT]
            await chat.say(who, text)
        elif action == "button":
            text = str(body.get("label", ""))[:MAX_TEXT]
            await chat.press(who, str(body.get("payload", "")), text)
        elif action == "contact" and chat.shares_contact:
            phone = str(body.get("phone", ""))[:32]
            await chat.contact(who, phone)
            text = f"📱 {phone}"
        else:
            raise web.HTTPNotFound()
        note(request, who, on_screen, text)
        return web.json_response({"ok": True})

    async def root(_: web.Request) -> web.Response:
        raise web.HTTPFound("/sandbox")

    return [web.get("/", root), web.get("/sandbox", page), web.get("/sandbox/api/channels", channels),
            web.get("/sandbox/api/{channel:[a-z]+}/{user}/messages", messages),
            web.get("/sandbox/api/{channel:[a-z]+}/{user}/said", own),
            web.post("/sandbox/api/{channel:[a-z]+}/{user}/{action}", act)]
