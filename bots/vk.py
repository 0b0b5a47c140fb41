"""VK through vkbottle: ``message_new`` -> ``InboundEvent``; rendered messages -> ``messages.send``.

Bots Long Poll by default; Callback API mode serves the confirmation code and
checks the secret on our web app. ``random_id`` is the outbox id, so a retried
send never shows twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError, web
from vkbottle import API, Bot, Keyboard, OpenLink, PhotoMessageUploader, Text, VKAPIError
from vkbottle.bot import BotLabeler
from vkbottle.polling import BotPolling
from vkbottle_types.events import GroupEventType

from bots.inflight import InFlight
from bots.restart import poll_until_stopped
from core.delivery import DELIVERED, DeliveryResult, Outcome
from core.events import Channel, EventKind, InboundEvent, OutgoingMessage
from core.templates import Rendered

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 20 * 1024 * 1024
LABEL_LIMIT = 40
UNREACHABLE_CODES = {7, 900, 901, 902, 18}  # no permission, blacklisted, privacy, deleted user
RETRY_CODES = {6, 9, 10, 29}  # too many requests, flood control, server error, rate limit
Handle = Callable[[InboundEvent], Awaitable[list[OutgoingMessage]]]


def method_url(base: str) -> str:
    """vkbottle glues method names onto this, so it must end in ``/method/``."""
    base = base.rstrip("/")
    return f"{base}/" if base.endswith("/method") else f"{base}/method/"


def keyboard(message: Rendered) -> str | None:
    buttons = [[b for b in row if b.kind != "contact"] for row in message.buttons]
    buttons = [row for row in buttons if row]
    if not buttons:
        return None
    board = Keyboard(inline=True)
    for index, row in enumerate(buttons):
        if index:
            board.row()
        for b in row:
            label = b.label[:LABEL_LIMIT]
            board.add(OpenLink(b.url, label) if b.kind == "url" else Text(label, payload={"p": b.payload}))
    return board.get_json()


def payload_of(raw: Any) -> str | None:
    """Our button payloads are ``{"p": "..."}``; VK's own Start button sends ``{"command": "start"}``."""
    if not raw:
        return None
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if isinstance(data, dict):
        if data.get("command") == "start":  # VK's own "Start" button
            return "/start"
        value = data.get("p")
        return str(value) if value is not None else None
    return None


class VkChannel:
    channel = Channel.VK

    def __init__(self, token: str, api_base: str, group_id: int | None, handle: Handle) -> None:
        api = API(token)
        api.API_URL = method_url(api_base)
        self.api = api
        self.bot = Bot(api=api, labeler=BotLabeler(), skip_old_events=False,
                       polling=BotPolling(api, group_id=group_id, skip_old_events=False, wait=25))
        self.handle = handle
        self.inflight = InFlight()
        # raw dicts rather than vkbottle's strict models: one unexpected field must not lose a message
        self.bot.on.raw_event(GroupEventType.MESSAGE_NEW, dict)(self._on_message_new)
        self._polling: asyncio.Task[Any] | None = None

    # inbound ---------------------------------------------------------------------------------

    async def _apply(self, event: InboundEvent) -> None:
        await self.inflight.run(self.handle(event))

    async def _on_message_new(self, event: dict[str, Any]) -> None:
        body = event.get("object") if isinstance(event.get("object"), dict) else {}
        message = body.get("message", body) if isinstance(body, dict) else {}
        if not isinstance(message, dict) or message.get("out") or "peer_id" not in message:
            return
        peer_id = message["peer_id"]
        if not isinstance(peer_id, int) or peer_id <= 0 or peer_id >= 2_000_000_000:
            return  # group chats and communities: the bot talks to people one to one
        account = str(peer_id)
        local_id = message.get("conversation_message_id") or message.get("id")
        who: dict[str, Any] = {"update_id": f"{peer_id}:{local_id}" if local_id else event.get("event_id")}
        payload = payload_of(message.get("payload"))
        attachments = message.get("attachments") if isinstance(message.get("attachments"), list) else []
        photos = [a.get("photo") for a in attachments if isinstance(a, dict) and a.get("type") == "photo"]
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if payload is not None:
            inbound = InboundEvent.button(Channel.VK, account, payload, **who)
        elif photos and isinstance(photos[0], dict):
            inbound = await self._photo_event(account, photos[0], who)
        elif text:
            inbound = InboundEvent.from_text(Channel.VK, account, text, **who)
        else:
            inbound = InboundEvent(Channel.VK, account, EventKind.UNSUPPORTED, **who)
        await self._apply(inbound)

    async def _photo_event(self, account: str, photo: dict[str, Any], who: dict[str, Any]) -> InboundEvent:
        sizes = [s for s in photo.get("sizes") or [] if isinstance(s, dict) and isinstance(s.get("url"), str)]
        if not sizes:
            return InboundEvent(Channel.VK, account, EventKind.PHOTO, attachment_error="download_failed", **who)
        largest = max(sizes, key=lambda s: int(s.get("width") or 0) * int(s.get("height") or 0))
        try:
            data = await self.api.http_client.request_content(largest["url"])
        except (ClientError, OSError, TimeoutError) as e:
            log.warning("vk photo download failed: %s", e)
            return InboundEvent(Channel.VK, account, EventKind.PHOTO, attachment_error="download_failed", **who)
        if len(data) > MAX_PHOTO_BYTES:
            return InboundEvent(Channel.VK, account, EventKind.PHOTO, attachment_error="too_large", **who)
        return InboundEvent(Channel.VK, account, EventKind.PHOTO, photo=data, **who)

    # polling and the Callback API --------------------------------------------------------------

    async def start_polling(self) -> None:
        self._polling = asyncio.create_task(poll_until_stopped(self.bot.run_polling, "vk"))

    def register_callback(self, app: web.Application, path: str, secret: str, confirmation: str) -> None:
        async def endpoint(request: web.Request) -> web.Response:
            try:
                event = await request.json()
            except ValueError:
                return web.Response(status=400, text="bad json")
            if not isinstance(event, dict):
                return web.Response(status=400, text="bad event")
            if event.get("type") == "confirmation":
                return web.Response(text=confirmation)
            if event.get("secret") != secret:
                return web.Response(status=403, text="bad secret")
            await self.bot.process_event(event)
            return web.Response(text="ok")

        app.router.add_post(path, endpoint)

    async def stop(self, grace: float = 10.0) -> None:
        if self._polling is not None:
            self.bot.polling.stop()
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        if not await self.inflight.drained(grace):
            log.warning("vk: events still running after %.0fs", grace)
        await self.api.http_client.close()

    # outbound --------------------------------------------------------------------------------

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        try:
            attachment = None
            if message.image is not None:
                attachment = await PhotoMessageUploader(self.api).upload(message.image, peer_id=int(account_id))
            await self.api.messages.send(peer_id=int(account_id), random_id=idempotency_key,
                                         message=message.text, keyboard=keyboard(message), dont_parse_links=1,
                                         attachment=attachment)
        except VKAPIError as e:
            if e.code in UNREACHABLE_CODES:
                return DeliveryResult(Outcome.UNREACHABLE, detail=f"{e.code} {e.error_msg}")
            if e.code in RETRY_CODES:
                return DeliveryResult(Outcome.RETRY, retry_after=1.0 if e.code == 6 else None,
                                      detail=f"{e.code} {e.error_msg}")
            return DeliveryResult(Outcome.FAILED, detail=f"{e.code} {e.error_msg}")
        except (ClientError, OSError, TimeoutError) as e:
            return DeliveryResult(Outcome.RETRY, detail=repr(e))
        return DELIVERED
