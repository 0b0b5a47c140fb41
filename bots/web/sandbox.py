"""The sandbox: chat with the bots as a Telegram user and a VK user, served against the built-in emulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator

PAGE = Path(__file__).with_name("static") / "sandbox.html"
MAX_PHOTO = 20 * 1024 * 1024


def _telegram_buttons(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    if not markup:
        return []
    if "inline_keyboard" in markup:
        return [[{"label": b["text"], "payload": b.get("callback_data"), "url": b.get("url")} for b in row]
                for row in markup["inline_keyboard"]]
    return [[{"label": b["text"], "contact": bool(b.get("request_contact")), "reply": True} for b in row]
            for row in markup.get("keyboard", [])]


def _vk_buttons(keyboard: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    rows = []
    for row in (keyboard or {}).get("buttons", []):
        shaped = []
        for button in row:
            action = button.get("action", {})
            if action.get("type") == "open_link":
                shaped.append({"label": action.get("label", ""), "url": action.get("link")})
            else:
                shaped.append({"label": action.get("label", ""), "payload": action.get("payload")})
        rows.append(shaped)
    return rows


def sandbox_routes(telegram: TelegramEmulator, vk: VkEmulator) -> list[web.AbstractRouteDef]:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html")

    def user(request: web.Request) -> int:
        try:
            value = int(request.match_info["user"])
        except ValueError as e:
            raise web.HTTPBadRequest(text="user must be a number") from e
        if not 0 < value < 2**40:
            raise web.HTTPBadRequest(text="user out of range")
        return value

    async def messages(request: web.Request) -> web.Response:
        who = user(request)
        if request.match_info["channel"] == "telegram":
            shaped = [{"id": m.message_id, "text": m.text, "html": m.parse_mode == "HTML",
                       "buttons": _telegram_buttons(m.reply_markup)} for m in telegram.messages_to(who)]
        else:
            shaped = [{"id": m.message_id, "text": m.text, "html": False, "buttons": _vk_buttons(m.keyboard)}
                      for m in vk.messages_to(who)]
        return web.json_response(shaped)

    async def act(request: web.Request) -> web.Response:
        who, channel, action = user(request), request.match_info["channel"], request.match_info["action"]
        if action == "photo":
            form = await request.post()
            upload = form.get("photo")
            if not isinstance(upload, web.FileField):
                raise web.HTTPBadRequest(text="send the picture in the 'photo' field")
            data = upload.file.read(MAX_PHOTO + 1)
            if channel == "telegram":
                await telegram.user_photo(who, data)
            else:
                await vk.user_photo(who, data)
            return web.json_response({"ok": True})
        try:
            body = await request.json()
        except ValueError as e:
            raise web.HTTPBadRequest(text="expected JSON") from e
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        if channel == "telegram":
            if action == "text":
                await telegram.user_text(who, str(body.get("text", ""))[:4096])
            elif action == "button":
                await telegram.user_press(who, str(body.get("payload", "")))
            elif action == "contact":
                await telegram.user_contact(who, str(body.get("phone", "")), own=True)
            else:
                raise web.HTTPNotFound()
        elif action == "text":
            await vk.user_text(who, str(body.get("text", ""))[:4096])
        elif action == "button":
            await vk.user_press(who, str(body.get("payload", "")), str(body.get("label", "")))
        else:
            raise web.HTTPNotFound()
        return web.json_response({"ok": True})

    async def root(_: web.Request) -> web.Response:
        raise web.HTTPFound("/sandbox")

    return [web.get("/", root), web.get("/sandbox", page),
            web.get("/sandbox/api/{channel:telegram|vk}/{user}/messages", messages),
            web.post("/sandbox/api/{channel:telegram|vk}/{user}/{action}", act)]

