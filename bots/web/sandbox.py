"""The sandbox page: chat with the bots as a user of each emulated messenger, one column per channel."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from bots.channel import SandboxChat

PAGE = Path(__file__).with_name("static") / "sandbox.html"
MAX_PHOTO = 20 * 1024 * 1024
MAX_TEXT = 4096


def sandbox_routes(chats: Mapping[str, SandboxChat]) -> list[web.AbstractRouteDef]:
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

    async def act(request: web.Request) -> web.Response:
        (chat, who), action = chat_and_user(request), request.match_info["action"]
        if action == "photo":
            form = await request.post()
            upload = form.get("photo")
            if not isinstance(upload, web.FileField):
                raise web.HTTPBadRequest(text="send the picture in the 'photo' field")
            data = upload.file.read(MAX_PHOTO + 1)
            if len(data) > MAX_PHOTO:
                raise web.HTTPRequestEntityTooLarge(MAX_PHOTO, len(data), text="the picture is over 20 MB")
            await chat.photo(who, data)
            return web.json_response({"ok": True})
        try:
            body = await request.json()
        except ValueError as e:
            raise web.HTTPBadRequest(text="expected JSON") from e
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        if action == "text":
            await chat.say(who, str(body.get("text", ""))[:MAX_TEXT])
        elif action == "button":
            await chat.press(who, str(body.get("payload", "")), str(body.get("label", ""))[:MAX_TEXT])
        elif action == "contact" and chat.shares_contact:
            await chat.contact(who, str(body.get("phone", ""))[:32])
        else:
            raise web.HTTPNotFound()
        return web.json_response({"ok": True})

    async def root(_: web.Request) -> web.Response:
        raise web.HTTPFound("/sandbox")

    return [web.get("/", root), web.get("/sandbox", page), web.get("/sandbox/api/channels", channels),
            web.get("/sandbox/api/{channel:[a-z]+}/{user}/messages", messages),
            web.post("/sandbox/api/{channel:[a-z]+}/{user}/{action}", act)]
