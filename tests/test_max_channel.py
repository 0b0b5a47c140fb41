"""The MAX channel against our MAX Bot API emulator, over real HTTP through maxapi: the token, the API's limits
and refusals, updates read into the core's events, rendered messages sent with their keyboards and pictures,
and long polling that acknowledges only what was stored."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

import bots.max_reading
from bots.emulators.max_api import MaxEmulator
from bots.emulators.max_users import DIALOG_BASE
from bots.emulators.server import LoopbackServer
from bots.max import MaxChannel, MaxSettings
from bots.max_reading import UpdateReader
from bots.max_updates import key_of, stored
from core.delivery import DeliveryOutcome
from core.events import EventKind, InboundEvent
from core.intake import Intake
from core.ports import InboxEntry, NewUpdate
from core.templates import Button, Rendered
from tests.platform import eventually

USER, OTHER = 3001, 3002


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
async def emulator() -> AsyncIterator[MaxEmulator]:
    running = MaxEmulator()
    await running.start()
    yield running
    await running.stop()


def channel_for(base: str, token: str, mode: str = "polling", **settings: Any) -> MaxChannel:
    return MaxChannel(MaxSettings(_env_file=None, bot_token=token, api_base=base, **settings), mode)  # type: ignore[arg-type]


@pytest.fixture
async def channel(emulator: MaxEmulator) -> AsyncIterator[MaxChannel]:
    built = channel_for(emulator.base_url, emulator.token)
    yield built
    await built.close()


def windows(emulator: MaxEmulator, chat: int | None = None) -> int:
    """The most API calls (to one chat: messages and answers) that fell into any one second."""
    times = sorted(at for at, call, params in emulator.calls
                   if chat is None or (call in ("POST /messages", "POST /answers")
                                       and (params.get("user_id") == str(chat)
                                            or emulator.callbacks.get(str(params.get("callback_id"))) == chat)))
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


class Reader:
    """Fetches updates by MAX's long poll, as polling mode does (2 polls a second at most, as MAX allows), and
    reads each as the intake would."""

    def __init__(self, channel: MaxChannel) -> None:
        self.channel, self.marker, self.polled = channel, None, 0.0
        self.waiting: list[dict[str, Any]] = []

    async def next(self) -> InboundEvent | None:
        while not self.waiting:
            await asyncio.sleep(max(0.0, self.polled + 0.55 - time.monotonic()))
            self.polled = time.monotonic()
            answer = await self.channel.api.get_updates(limit=100, timeout=5, marker=self.marker)
            self.waiting, self.marker = answer["updates"], answer["marker"]
        return await self.read(self.waiting.pop(0))

    async def read(self, update: dict[str, Any]) -> InboundEvent | None:
        new = stored(update)
        return await self.channel.read(InboxEntry(1, self.channel.bot, new.update_id, new.account_id, update, 0))


async def test_the_token_goes_as_it_is_and_a_bearer_or_wrong_one_is_refused(emulator: MaxEmulator,
                                                                            channel: MaxChannel) -> None:
    async with aiohttp.ClientSession(emulator.base_url) as http:
        bearer = await http.get("/me", headers={"Authorization": f"Bearer {emulator.token}"})
        assert bearer.status == 401 and (await bearer.json())["code"] == "verify.token"
        assert (await http.get("/me")).status == 401
    me = await channel.api.get_me()
    assert me.is_bot and me.username == "promo_max_bot"
    await emulator.user_text(USER, "привет")
    stranger = channel_for(emulator.base_url, "stolen-token")
    refused = await stranger.send(str(USER), Rendered("привет"), 1)
    await stranger.close()
    assert refused.outcome is DeliveryOutcome.FAILED and "401" in refused.detail
    assert emulator.messages_to(USER) == []


async def test_texts_commands_start_links_stickers_photos_and_contacts_become_core_events(
        emulator: MaxEmulator, channel: MaxChannel) -> None:
    reader, picture = Reader(channel), png()
    emulator.set_user(USER, "Мария", "Петрова", locale="en")
    mid = await emulator.user_text(USER, "Привет")
    await emulator.user_text(USER, "/help")
    await emulator.user_start(USER, "kefir")
    await emulator.user_start(USER)
    await emulator.user_sticker(USER)
    await emulator.user_photo(USER, picture)
    await emulator.user_contact(USER, "+7 999 000-11-22", own=True)
    await emulator.user_contact(USER, "+7 912 345-67-89", own=False)
    text = await reader.next()
    assert text is not None and (text.kind, text.text, text.account_id) == (EventKind.TEXT, "Привет", str(USER))
    assert (text.update_id, text.display_name, text.locale_hint) == (mid, "Мария Петрова", "en")
    command = await reader.next()
    assert command is not None and (command.kind, command.command) == (EventKind.COMMAND, "/help")
    start = await reader.next()
    assert start is not None and (start.command, start.args) == ("/start", "kefir")
    bare = await reader.next()  # the Start button of a first visit, no link: /start all the same
    assert bare is not None and (bare.command, bare.args) == ("/start", "")
    sticker = await reader.next()
    assert sticker is not None and sticker.kind is EventKind.UNSUPPORTED
    photo = await reader.next()
    assert photo is not None and photo.kind is EventKind.PHOTO and photo.photo == picture
    own = await reader.next()
    assert own is not None and own.contact is not None and (own.contact.phone, own.contact.is_own) == (
        "79990001122", True)  # the number as MAX writes it; the core reads it as Russian's +7
    else_s = await reader.next()
    assert else_s is not None and else_s.contact is not None and not else_s.contact.is_own


async def test_a_pressed_button_is_answered_at_once_and_becomes_its_payload(emulator: MaxEmulator,
                                                                          channel: MaxChannel) -> None:
    reader = Reader(channel)
    await emulator.user_text(USER, "Привет")
    await reader.next()
    buttons = ((Button("callback", "Согласен", "consent:yes"), Button("callback", "Нет", "consent:no")),)
    assert (await channel.send(str(USER), Rendered("Согласны?", buttons), 7)).outcome is DeliveryOutcome.DELIVERED
    callback = await emulator.user_press(USER, "consent:yes")
    pressed = await reader.next()
    assert pressed is not None and (pressed.kind, pressed.payload) == (EventKind.BUTTON, "consent:yes")
    assert emulator.answers == {callback: {"notification": "✓"}} and not emulator.open_callbacks
    with pytest.raises(LookupError):  # nobody can press a button we never sent
        await emulator.user_press(USER, "admin:grant")
    again = await reader.read(emulator.feed.history[-1])  # read once more after a crash: answering twice is harmless
    assert again is not None and again.payload == "consent:yes"


async def test_a_rendered_message_goes_out_as_html_with_its_keyboard_and_its_picture(emulator: MaxEmulator,
                                                                                   channel: MaxChannel) -> None:
    await emulator.user_text(USER, "Привет")
    picture = png()
    rows = ((Button("callback", "Да", "receipt:yes"), Button("url", "Правила", url="https://promo.example/rules")),
            (Button("contact", "Поделиться номером"),))
    message = Rendered("Это <b>ваш</b> чек?", rows, is_html=True, image=picture, image_name="hint.png")
    assert (await channel.send(str(USER), message, 1)).outcome is DeliveryOutcome.DELIVERED
    assert (await channel.send(str(USER), Rendered("Спасибо & до встречи"), 2)).outcome is DeliveryOutcome.DELIVERED
    rich, plain = emulator.messages_to(USER)
    assert (rich.text, rich.format, rich.image) == ("Это <b>ваш</b> чек?", "html", picture)
    assert rich.buttons == [
        [{"type": "callback", "text": "Да", "payload": "receipt:yes", "intent": "default"},
         {"type": "link", "text": "Правила", "url": "https://promo.example/rules"}],
        [{"type": "request_contact", "text": "Поделиться номером"}]]
    assert (plain.text, plain.format, plain.buttons, plain.image) == ("Спасибо & до встречи", None, [], None)
    sends = emulator.sent("POST /messages")
    assert sends[1]["user_id"] == str(USER) and "chat_id" not in sends[1]  # a person by their user id


async def test_rows_too_long_for_max_are_split_and_a_keyboard_past_its_limits_is_cut(emulator: MaxEmulator,
                                                                                   channel: MaxChannel) -> None:
    await emulator.user_text(USER, "Привет")
    wide = tuple(Button("callback", f"{n}", f"pick:{n}") for n in range(10))
    links = tuple(Button("url", f"L{n}", url=f"https://promo.example/{n}") for n in range(5))
    many = tuple((Button("callback", f"r{n}", f"row:{n}"),) for n in range(40))
    assert (await channel.send(str(USER), Rendered("выбор", (wide, links)), 1)).outcome is DeliveryOutcome.DELIVERED
    assert (await channel.send(str(USER), Rendered("много", many), 2)).outcome is DeliveryOutcome.DELIVERED
    split, cut = emulator.messages_to(USER)
    assert [len(row) for row in split.buttons] == [7, 3, 3, 2]  # 7 callbacks a row; 3 where a row holds a link
    assert len(cut.buttons) == 30 and cut.buttons[-1][0]["payload"] == "row:29"


async def test_refusals_become_the_outcomes_the_outbox_acts_on(emulator: MaxEmulator, channel: MaxChannel) -> None:
    for user in (USER, OTHER, 3003):
        await emulator.user_text(user, "Привет")
    emulator.block(OTHER)
    await emulator.user_stops_bot(3003)
    never = await channel.send("9999", Rendered("привет"), 1)
    assert never.outcome is DeliveryOutcome.UNREACHABLE and never.detail.startswith("404 not.found")
    blocked = await channel.send(str(OTHER), Rendered("привет"), 2)
    assert blocked.outcome is DeliveryOutcome.UNREACHABLE and blocked.detail.startswith("403 chat.denied")
    stopped = await channel.send("3003", Rendered("привет"), 3)
    assert stopped.outcome is DeliveryOutcome.UNREACHABLE
    emulator.throttle(USER)
    throttled = await channel.send(str(USER), Rendered("привет"), 4)
    assert throttled.outcome is DeliveryOutcome.RETRY and throttled.throttled and throttled.retry_after == 1.0
    broken = await channel.send(str(USER), Rendered("<b>не закрыт", is_html=True), 5)
    assert broken.outcome is DeliveryOutcome.FAILED and broken.detail.startswith("400 proto.payload")
    too_long = await channel.send(str(USER), Rendered("я" * 4000), 6)
    assert too_long.outcome is DeliveryOutcome.FAILED  # maxapi refuses it before MAX would
    assert (await channel.send(str(USER), Rendered("я" * 3999), 7)).outcome is DeliveryOutcome.DELIVERED
    assert [m.text for m in emulator.messages_to(USER)] == ["я" * 3999]
    port_holder = MaxEmulator()
    gone = await port_holder.start()
    await port_holder.stop()  # a port where nothing answers
    away = channel_for(gone, emulator.token)
    result = await away.send(str(USER), Rendered("привет"), 8)
    await away.close()
    assert result.outcome is DeliveryOutcome.RETRY


async def test_a_stalled_api_is_a_retry_within_the_send_timeout(emulator: MaxEmulator) -> None:
    await emulator.user_text(USER, "Привет")
    channel = channel_for(emulator.base_url, emulator.token, send_timeout=1)
    emulator.stall(3)
    try:
        began = time.monotonic()
        result = await channel.send(str(USER), Rendered("привет"), 1)
        assert result.outcome is DeliveryOutcome.RETRY and time.monotonic() - began < 2.5
    finally:
        emulator.stall(None)
        await channel.close()


# MAX's limits: the emulator enforces them, and the channel never meets them -----------------------------


async def test_the_emulator_refuses_a_31st_request_in_a_second_and_a_3rd_message_to_one_chat(
        emulator: MaxEmulator) -> None:
    """What the tests below rely on: going past MAX's limits gets 429 here, as it does from MAX."""
    for user in range(4001, 4004):
        await emulator.user_text(user, "Привет")
    headers = {"Authorization": emulator.token}
    async with aiohttp.ClientSession(emulator.base_url, headers=headers) as http:
        to_one = [await http.post("/messages", params={"user_id": "4001"}, json={"text": f"{n}"}) for n in range(3)]
        assert [r.status for r in to_one] == [200, 200, 429]
        await asyncio.sleep(1.0)
        statuses = [r.status for r in await asyncio.gather(*(http.get("/me") for _ in range(31)))]
        assert statuses.count(200) == 30 and statuses.count(429) == 1
        body = await (await http.get("/me")).json()
        assert body["code"] == "too.many.requests"
    assert emulator.too_many == 3


async def test_a_burst_of_sends_never_meets_maxs_limits(emulator: MaxEmulator, channel: MaxChannel) -> None:
    users = range(5001, 5041)
    for user in (*users, USER):
        await emulator.user_text(user, "Привет")
    began = time.monotonic()
    results = await asyncio.gather(*(channel.send(str(user), Rendered("ответ"), user) for user in users),
                                   *(channel.send(str(USER), Rendered(f"ещё {n}"), n) for n in range(4)))
    assert {r.outcome for r in results} == {DeliveryOutcome.DELIVERED}
    assert emulator.too_many == 0 and windows(emulator) <= 30 and windows(emulator, USER) <= 2
    assert time.monotonic() - began < 4  # held back only as long as the limits need


async def test_an_answered_press_and_two_replies_at_once_keep_to_the_chats_limit(emulator: MaxEmulator,
                                                                               channel: MaxChannel) -> None:
    reader = Reader(channel)
    await emulator.user_text(USER, "Привет")
    await reader.next()
    await channel.send(str(USER), Rendered("Согласны?", ((Button("callback", "Да", "consent:yes"),),)), 1)
    await asyncio.sleep(1.1)
    await emulator.user_press(USER, "consent:yes")
    await reader.next()  # the answer to the press, then the replies it brings, all within a second
    results = await asyncio.gather(*(channel.send(str(USER), Rendered(f"ответ {n}"), n) for n in range(2)))
    assert {r.outcome for r in results} == {DeliveryOutcome.DELIVERED}
    assert emulator.too_many == 0 and windows(emulator, USER) <= 2 and not emulator.open_callbacks


# long polling --------------------------------------------------------------------------------------------


class Recorder:
    """The intake's side of polling: what was stored, with the cursor; ``refuse`` fails the next ones."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[NewUpdate], str | None]] = []
        self.refuse = 0
        self.arrived = asyncio.Event()

    async def cursor(self, bot: str) -> str | None:
        return next((c for _, c in reversed(self.batches) if c is not None), None)

    async def receive(self, bot: str, updates: list[NewUpdate], cursor: str | None = None) -> int:
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("the database is away")
        self.batches.append((updates, cursor))
        self.arrived.set()
        return len(updates)

    def keys(self) -> list[str]:
        return [u.update_id for updates, _ in self.batches for u in updates]


async def test_polling_unsubscribes_a_webhook_first_and_acknowledges_only_what_was_stored(
        emulator: MaxEmulator, caplog: pytest.LogCaptureFixture) -> None:
    await emulator.feed.subscribe("https://old.promo.example/webhook/max", "old-secret-1234", None)
    recorder, channel = Recorder(), channel_for(emulator.base_url, emulator.token)
    await channel.start(cast(Intake, recorder))
    try:
        assert emulator.feed.subscription is None and "unsubscribed" in caplog.text
        first = await emulator.user_text(USER, "раз")
        await asyncio.wait_for(recorder.arrived.wait(), 5)
        (updates, cursor), *_ = [b for b in recorder.batches if b[0]]
        assert [u.update_id for u in updates] == [first] and updates[0].account_id == str(USER) and cursor
        recorder.refuse = 1  # the next batch is not stored: MAX must hand it out again
        recorder.arrived.clear()
        second = await emulator.user_text(USER, "два")
        await asyncio.wait_for(recorder.arrived.wait(), 10)
        assert recorder.keys() == [first, second]  # handed out again after the failure, stored once
        await eventually(lambda: emulator.feed.acknowledged() == 2)  # by the poll after the one it came in
        assert recorder.batches[-1][1] == str(emulator.feed.confirmed)  # the cursor stored is what MAX was told
        assert emulator.too_many == 0  # polls kept to MAX's 2 a second
    finally:
        await channel.stop()
        await channel.close()


def test_update_keys_are_the_message_or_the_press_and_never_cut() -> None:
    message = {"update_type": "message_created", "timestamp": 1, "message": {"body": {"mid": "mid.abc"}}}
    press = {"update_type": "message_callback", "timestamp": 1, "callback": {"callback_id": "cb1"}}
    assert (key_of(message), key_of(press)) == ("mid.abc", "callback:cb1")
    long_a, long_b = ({"update_type": "message_created", "timestamp": 1,
                       "message": {"body": {"mid": "m" * 70 + tail}}} for tail in "ab")
    assert len(key_of(long_a)) <= 64 and key_of(long_a) != key_of(long_b)  # never two keys cut into one
    started = {"update_type": "bot_started", "timestamp": 5, "user": {"user_id": 7}, "payload": "x"}
    assert key_of(started) == key_of(dict(started)) != key_of({**started, "payload": "y"})
    assert stored({**message, "message": {"recipient": {"chat_type": "chat"}, "body": {"mid": "m1"}}}).account_id \
        is None  # a group chat: nobody to answer one to one


# untrusted updates ---------------------------------------------------------------------------------------


async def test_a_photo_anywhere_but_maxs_hosts_is_never_fetched_redirects_included(
        emulator: MaxEmulator, channel: MaxChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    hits: list[str] = []

    async def bait(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=png())

    elsewhere_app = web.Application()
    elsewhere_app.router.add_get("/{name}", bait)
    elsewhere = LoopbackServer(elsewhere_app)
    other = (await elsewhere.start()).replace("127.0.0.1", "localhost")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other}/internal")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 2000)

    max_app = web.Application()  # stands for MAX's own host, which a forged update may not lead away from
    max_app.router.add_get("/redirect", redirect)
    max_app.router.add_get("/big", big)
    max_host = LoopbackServer(max_app)
    own = await max_host.start()
    reader = UpdateReader(lambda *_: asyncio.sleep(0), own)
    try:
        def photo(url: str) -> InboxEntry:
            raw = {"update_type": "message_created", "timestamp": 1, "message": {
                "sender": {"user_id": USER, "first_name": "Ева", "is_bot": False},
                "recipient": {"chat_id": DIALOG_BASE + USER, "chat_type": "dialog"},
                "body": {"mid": "mid.1", "seq": 1, "attachments": [{"type": "image", "payload": {"url": url}}]}}}
            return InboxEntry(1, "max:x", "mid.1", str(USER), raw, 0)

        for url in (f"{other}/internal", f"{own}/redirect", "file:///etc/passwd", f"http://i.oneme.ru@{other[7:]}/x"):
            event = await reader.read(photo(url))
            assert event is not None and event.kind is EventKind.PHOTO and event.photo is None
            assert event.attachment_error == "download_failed", url
        monkeypatch.setattr(bots.max_reading, "MAX_PHOTO_BYTES", 1000)
        large = await reader.read(photo(f"{own}/big"))
        assert large is not None and large.attachment_error == "too_large" and large.photo is None
        assert hits == []
    finally:
        await reader.close()
        await max_host.stop()
        await elsewhere.stop()


async def test_malformed_updates_are_answered_or_ignored_never_raised(emulator: MaxEmulator,
                                                                    channel: MaxChannel) -> None:
    reader = Reader(channel)
    sender = {"user_id": USER, "first_name": "Ева", "is_bot": False}
    dialog = {"chat_id": DIALOG_BASE + USER, "chat_type": "dialog"}

    def created(body: Any, **message: Any) -> dict[str, Any]:
        return {"update_type": "message_created", "timestamp": 1,
                "message": {"sender": sender, "recipient": dialog, "body": body, **message}}

    shapes: list[dict[str, Any]] = [
        created("garbage"),
        created({"mid": "m2", "attachments": [{"type": "image", "payload": {"url": 5}}, None, "x"]}),
        created({"mid": "m3", "attachments": {"type": "image"}, "text": ["no"]}),
        created({"mid": "m4", "attachments": [{"type": "contact", "payload": {"vcf_info": "BEGIN:VCARD\nTEL:abc"}}]}),
        created({"mid": "m5", "text": "hi"}, sender={"user_id": True, "is_bot": False}),
        created({"mid": "m6", "text": "hi"}, sender={**sender, "is_bot": True}),
        created({"mid": "m7", "text": "hi"}, recipient={"chat_id": 5, "chat_type": "chat"}),
        {"update_type": "message_callback", "timestamp": 1, "callback": {"callback_id": 7, "payload": ["x"],
                                                                         "user": sender}},
        {"update_type": "bot_started", "timestamp": 1, "user": sender, "payload": {"campaign": "x"}},
        {"update_type": "bot_stopped", "timestamp": 1, "user": sender},
        {"update_type": "message_edited", "timestamp": 1, "message": {"sender": sender, "recipient": dialog}},
        {"update_type": "something_new", "timestamp": 1},
    ]
    events = [await reader.read(shape) for shape in shapes]
    kinds = [(event.kind, event.command) if event else None for event in events]
    unsupported = (EventKind.UNSUPPORTED, "")
    assert kinds == [unsupported, (EventKind.PHOTO, ""), unsupported, unsupported, None, None, None, unsupported,
                     (EventKind.COMMAND, "/start"), None, None, None]
    assert events[1] is not None and events[1].attachment_error == "download_failed"
    assert emulator.sent("POST /answers") == []  # a callback id that is not a string is never sent back


def test_webhook_mode_needs_a_secret_max_accepts_and_an_https_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_BOT_TOKEN", "MAX_WEBHOOK_SECRET", "MAX_PUBLIC_URL", "PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    for secret in ("", "short-secret", "has spaces in it 1234", "under_score_is_not_maxs"):
        with pytest.raises(ValueError, match="MAX_WEBHOOK_SECRET"):
            MaxSettings(_env_file=None, bot_token="t", webhook_secret=secret).check("webhook")
    good = "A-good-secret-0123456789"
    with pytest.raises(ValueError, match="MAX_PUBLIC_URL"):
        MaxSettings(_env_file=None, bot_token="t", webhook_secret=good, public_url="http://promo.example").check(
            "webhook")
    MaxSettings(_env_file=None, bot_token="t", webhook_secret=good, public_url="https://promo.example").check("webhook")
    MaxSettings(_env_file=None, bot_token="t", webhook_secret=good, public_url="http://127.0.0.1:8080").check(
        "webhook")  # a local run
    MaxSettings(_env_file=None, bot_token="t").check("polling")
    assert not MaxSettings(_env_file=None).enabled and not MaxSettings(_env_file=None, bot_token="").enabled
    assert MaxSettings(_env_file=None, bot_token="t").enabled
    assert MaxSettings(_env_file=None).api_base == "https://platform-api2.max.ru"
