"""The OK channel against our OK Graph API emulator, over real HTTP: the API's limits and refusals, updates read
into the core's events, rendered messages sent with their keyboards and pictures."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bots.emulators.ok_api import OkEmulator
from bots.emulators.server import LoopbackServer
from bots.ok import OkChannel, OkSettings
from bots.ok_graph import OkError, stored
from core.delivery import DeliveryOutcome
from core.events import EventKind, InboundEvent
from core.ports import InboxEntry
from core.templates import Button, Rendered

USER, OTHER = 4001, 4002


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
async def ok() -> AsyncIterator[OkEmulator]:
    emulator = OkEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


def channel_for(base: str, token: str) -> OkChannel:
    return OkChannel(OkSettings(_env_file=None, bot_token=token, api_base=base), "polling")


@pytest.fixture
async def channel(ok: OkEmulator) -> AsyncIterator[OkChannel]:
    built = channel_for(ok.base_url, ok.token)
    await built.api.call("POST", "me/subscribe", {"types": ["MESSAGE_CREATED"], "longPolling": True})
    yield built
    await built.close()


class Reader:
    """Fetches updates by OK's long poll, as polling mode does, and reads each as the intake would."""

    def __init__(self, channel: OkChannel) -> None:
        self.channel, self.marker = channel, "0"

    async def next(self) -> InboundEvent | None:
        answer = await self.channel.api.call("GET", "me/updates", params={"marker": self.marker, "timeout": 5,
                                                                            "count": 1})
        (update,) = answer["updates"]
        self.marker = answer["marker"]
        return await self.read(update)

    async def read(self, update: dict[str, Any]) -> InboundEvent | None:
        new = stored(update)
        return await self.channel.read(InboxEntry(1, self.channel.bot, new.update_id, new.account_id, update, 0))


async def test_a_wrong_or_missing_token_and_an_unknown_method_are_refused_as_ok_refuses_them(ok: OkEmulator) -> None:
    async with aiohttp.ClientSession(ok.base_url) as http:
        wrong = await http.get("/graph/me/info", params={"access_token": "stolen"})
        assert wrong.status == 200 and wrong.headers["invocation-error"] == "102"
        assert (await wrong.json())["error_code"] == 102
        missing = await (await http.get("/graph/me/info")).json()
        assert missing["error_code"] == 100 and "access_token" in missing["error_msg"]
        unknown = await (await http.get("/graph/me/nothing", params={"access_token": ok.token})).json()
        assert unknown["error_code"] == 3
        form = await (await http.post("/graph/me/subscribe", params={"access_token": ok.token}, data="url=x")).json()
        assert form["error_code"] == 100  # OK takes JSON bodies only
    stranger = channel_for(ok.base_url, "stolen")
    with pytest.raises(OkError) as refused:
        await stranger.api.call("GET", "me/info")
    await stranger.close()
    assert refused.value.code == 102


async def test_the_groups_rate_limit_holds_in_every_sliding_second(ok: OkEmulator, channel: OkChannel) -> None:
    ok.rate_limit = 5
    await asyncio.sleep(1.0)  # the fixture's subscription leaves the window
    results = await asyncio.gather(*(channel.api.call("GET", "me/info") for _ in range(8)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, OkError)]
    assert len(refused) == 3 and {r.code for r in refused} == {8} and ok.too_many == 3
    await ok.user_text(USER, "привет")
    result = await channel.send(ok.chat_of(USER), Rendered("ответ"), 1)
    assert result.outcome is DeliveryOutcome.RETRY and result.throttled and result.retry_after == 1.0
    await asyncio.sleep(1.0)
    assert (await channel.send(ok.chat_of(USER), Rendered("ответ"), 1)).outcome is DeliveryOutcome.DELIVERED


async def test_text_commands_a_start_link_a_sticker_and_a_photo_become_core_events(ok: OkEmulator,
                                                                                     channel: OkChannel) -> None:
    reader, chat, picture = Reader(channel), ok.chat_of(USER), png()
    mid = await ok.user_text(USER, "Привет")
    await ok.user_text(USER, "/help")
    await ok.user_start(USER, "kefir")
    await ok.user_sticker(USER)
    await ok.user_photo(USER, picture)
    text = await reader.next()
    assert text is not None and (text.kind, text.text, text.account_id) == (EventKind.TEXT, "Привет", chat)
    assert text.update_id == mid and text.display_name == f"User{USER}"
    command = await reader.next()
    assert command is not None and (command.kind, command.command) == (EventKind.COMMAND, "/help")
    start = await reader.next()
    assert start is not None and (start.command, start.args) == ("/start", "kefir")
    sticker = await reader.next()
    assert sticker is not None and sticker.kind is EventKind.UNSUPPORTED
    photo = await reader.next()
    assert photo is not None and photo.kind is EventKind.PHOTO and photo.photo == picture


async def test_a_pressed_button_is_answered_as_ok_requires_and_becomes_its_payload(ok: OkEmulator,
                                                                                 channel: OkChannel) -> None:
    reader = Reader(channel)
    await ok.user_text(USER, "Привет")
    await reader.next()
    buttons = ((Button("callback", "Согласен", "consent:yes"), Button("callback", "Нет", "consent:no")),)
    sent = await channel.send(ok.chat_of(USER), Rendered("Согласны?", buttons), 7)
    assert sent.outcome is DeliveryOutcome.DELIVERED
    callback = await ok.user_press(USER, "consent:yes")
    pressed = await reader.next()
    assert pressed is not None and (pressed.kind, pressed.payload) == (EventKind.BUTTON, "consent:yes")
    assert ok.answers == {callback: "✓"} and not ok.open_callbacks
    with pytest.raises(LookupError):  # nobody can press a button we never sent
        await ok.user_press(USER, "admin:grant")
    again = await reader.read(ok.events[-1])  # read once more after a crash: answering twice is harmless
    assert again is not None and again.payload == "consent:yes"


async def test_a_rendered_message_goes_out_with_its_keyboard_and_its_picture(ok: OkEmulator,
                                                                          channel: OkChannel) -> None:
    await ok.user_text(USER, "Привет")
    picture = png()
    rows = ((Button("callback", "Да", "receipt:yes"), Button("url", "Правила", url="https://promo.example/rules")),
            (Button("callback", "Нет", "receipt:no"),))
    message = Rendered("Это ваш чек?", rows, image=picture, image_name="hint.png")
    assert (await channel.send(ok.chat_of(USER), message, 1)).outcome is DeliveryOutcome.DELIVERED
    assert (await channel.send(ok.chat_of(USER), Rendered("Спасибо"), 2)).outcome is DeliveryOutcome.DELIVERED
    with_keyboard, plain = ok.messages_to(USER)
    assert with_keyboard.image == picture and with_keyboard.text == "Это ваш чек?"
    assert with_keyboard.keyboard == [
        [{"type": "CALLBACK", "text": "Да", "payload": "receipt:yes", "intent": "DEFAULT"},
         {"type": "LINK", "text": "Правила", "url": "https://promo.example/rules", "intent": "DEFAULT"}],
        [{"type": "CALLBACK", "text": "Нет", "payload": "receipt:no", "intent": "DEFAULT"}]]
    assert plain.keyboard is None and plain.image is None
    sends = [body for _, verb, path, body in ok.calls if path.startswith("me/messages/")]
    assert sends[1] == {"recipient": {"chat_id": ok.chat_of(USER)}, "message": {"text": "Спасибо"}}


async def test_refusals_become_the_outcomes_the_outbox_acts_on(ok: OkEmulator, channel: OkChannel) -> None:
    await ok.user_text(USER, "Привет")
    await ok.user_text(OTHER, "Привет")
    ok.block(OTHER)
    never = await channel.send(ok.chat_of(9999), Rendered("привет"), 1)
    assert never.outcome is DeliveryOutcome.UNREACHABLE and never.detail.startswith("300")
    blocked = await channel.send(ok.chat_of(OTHER), Rendered("привет"), 2)
    assert blocked.outcome is DeliveryOutcome.UNREACHABLE and blocked.detail.startswith("10 ")
    too_long = await channel.send(ok.chat_of(USER), Rendered("я" * 4001), 3)
    assert too_long.outcome is DeliveryOutcome.FAILED and too_long.detail.startswith("100")
    stranger = channel_for(ok.base_url, "revoked-token")
    revoked = await stranger.send(ok.chat_of(USER), Rendered("привет"), 4)
    await stranger.close()
    assert revoked.outcome is DeliveryOutcome.FAILED and revoked.detail.startswith("102")
    assert ok.messages_to(USER) == [] and ok.messages_to(OTHER) == []
    port_holder = OkEmulator()
    gone = await port_holder.start()
    await port_holder.stop()  # a port where nothing answers
    away = channel_for(gone, ok.token)
    result = await away.send(ok.chat_of(USER), Rendered("привет"), 5)
    await away.close()
    assert result.outcome is DeliveryOutcome.RETRY


async def test_a_photo_at_an_address_that_is_not_oks_is_never_fetched(ok: OkEmulator, channel: OkChannel) -> None:
    hits: list[str] = []

    async def bait(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=png())

    app = web.Application()
    app.router.add_get("/{name}", bait)
    elsewhere = LoopbackServer(app)
    base = await elsewhere.start()
    try:
        reader, chat = Reader(channel), ok.chat_of(USER)
        forged = {"webhookType": "MESSAGE_CREATED", "recipient": {"chat_id": chat}, "message": {
            "mid": "mid:1", "attachments": [{"type": "IMAGE", "payload": {
                "url": base.replace("127.0.0.1", "localhost") + "/internal"}}]}}
        event = await reader.read(forged)
        assert event is not None and event.kind is EventKind.PHOTO and event.photo is None
        assert event.attachment_error == "download_failed" and hits == []
    finally:
        await elsewhere.stop()


async def test_malformed_updates_are_answered_or_ignored_never_raised(ok: OkEmulator, channel: OkChannel) -> None:
    reader, chat = Reader(channel), ok.chat_of(USER)
    shapes: list[dict[str, Any]] = [
        {"webhookType": "MESSAGE_CREATED", "recipient": {"chat_id": chat}, "message": "garbage"},
        {"webhookType": "MESSAGE_CREATED", "recipient": {"chat_id": chat},
         "message": {"attachments": [{"type": "IMAGE", "payload": {"url": 5}}, None, "x"]}},
        {"webhookType": "MESSAGE_CREATED", "recipient": {"chat_id": chat}, "message": {"attachment": {
            "type": "CONTACT", "payload": {"phone": "+79123456789"}}}},
        {"webhookType": "MESSAGE_CALLBACK", "recipient": {"chat_id": chat}, "callbackId": "nope", "payload": 7},
        {"webhookType": "CHAT_SYSTEM", "recipient": {"chat_id": chat}},
        {"webhookType": "MESSAGE_CREATED", "recipient": {"chat_id": 5}, "message": {"text": "hi"}},
    ]
    events = [await reader.read(shape) for shape in shapes]
    kinds = [event.kind if event else None for event in events]
    assert kinds == [EventKind.UNSUPPORTED, EventKind.PHOTO, EventKind.CONTACT, EventKind.UNSUPPORTED, None, None]
    contact = events[2]
    assert contact is not None and contact.contact is not None and not contact.contact.is_own  # never proved


def test_webhook_mode_needs_a_secret_fit_for_a_url_path_and_polling_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OK_BOT_TOKEN", "OK_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for secret in ("", "short", "has spaces in it, 1234", "slash/in/the/secret/123"):
        with pytest.raises(ValueError, match="OK_WEBHOOK_SECRET"):
            OkSettings(_env_file=None, bot_token="t", webhook_secret=secret).check("webhook")
    OkSettings(_env_file=None, bot_token="t", webhook_secret="A-good_secret-1234").check("webhook")
    OkSettings(_env_file=None, bot_token="t").check("polling")
    assert not OkSettings(_env_file=None).enabled and OkSettings(_env_file=None, bot_token="t").enabled
