"""MAX through the whole platform (``run.bootstrap``) against our MAX Bot API emulator, over real HTTP:
registration with a shared contact, a pack's link, a receipt photo, a winner notice, people who blocked or
stopped the bot, a rush of people at once within MAX's limits; the webhook endpoint under forged, broken and
redelivered bodies and with the database away; the sandbox page; and ``run.py`` killed mid-burst.

"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots import max as max_channel
from bots.channel import ChannelPlugin
from bots.emulators.max_api import MaxEmulator
from bots.emulators.max_users import DIALOG_BASE, MaxMessage
from bots.registry import CHANNELS
from core import campaigns
from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from core.identity import Person
from run import Platform
from tests.images import receipt_photo
from tests.ledger_check import check_ledger, receipt, seed_registered
from tests.platform import eventually, platform_settings, point_channels_at, started
from tests.test_campaigns import KEFIR
from tests.test_crash import (
    ROOT,
    PlatformProcess,
    events_without_their_effect,
    free_port,
    unrecorded_replies,
    unsettled,
    until,
)

PLUGINS: Sequence[ChannelPlugin] = CHANNELS
MAX = ChannelName("max")
USER, OTHER = 3001, 3002
SECRET = "max-webhook-secret-0123456789"
PHOTO_WAIT = 30.0  # decoding a QR photo on two shared cores
FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


@pytest.fixture
async def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MaxEmulator]:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    running = MaxEmulator()
    await running.start()
    point_channels_at(monkeypatch, None, None, MAX_BOT_TOKEN=running.token, MAX_API_BASE=running.base_url,
                      MAX_WEBHOOK_SECRET=None, MAX_PUBLIC_URL=None, PUBLIC_URL=None, OK_BOT_TOKEN=None)
    yield running
    await running.stop()


@pytest.fixture
async def platform(tmp_path: Path, emulator: MaxEmulator) -> AsyncIterator[Platform]:
    running = await started(platform_settings(tmp_path, quiet_hours="off"), plugins=PLUGINS)
    assert [c.profile.name for c in running.channels] == ["max"]
    await eventually(lambda: emulator.polling)  # MAX keeps updates until polled; this only saves a wait
    yield running
    await running.stop()


async def after(emulator: MaxEmulator, action: Awaitable[Any], replies: int = 1, timeout: float = 10.0,
                user: int = USER) -> list[MaxMessage]:
    """What the person was sent in answer to ``action``."""
    before = emulator.outbox.count(user)
    await action
    return (await emulator.wait_for_messages(user, before + replies, timeout))[before:before + replies]


def buttons_of(message: MaxMessage, kind: str = "callback") -> list[dict[str, Any]]:
    return [b for row in message.buttons for b in row if b["type"] == kind]


async def register(emulator: MaxEmulator, user: int = USER) -> MaxMessage:
    await after(emulator, emulator.user_text(user, "Начать"), user=user)
    await after(emulator, emulator.user_press(user, "consent:yes"), user=user)
    await after(emulator, emulator.user_text(user, "Ольга Иванова"), user=user)
    await after(emulator, emulator.user_contact(user, "+7 999 000-11-22"), user=user)
    (done,) = await after(emulator, emulator.user_press(user, "email:skip"), user=user)
    return done


async def person_of(platform: Platform, user: int = USER) -> tuple[Any, Person]:
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(MAX, str(user))
    assert found is not None
    return found


def most_in_a_second(emulator: MaxEmulator) -> int:
    times = sorted(at for at, _, _ in emulator.calls)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


async def test_registration_through_max_with_its_buttons_and_a_shared_contact(platform: Platform,
                                                                             emulator: MaxEmulator) -> None:
    (consent,) = await after(emulator, emulator.user_text(USER, "Начать"))
    assert consent.format == "html" and '<a href="' in consent.text  # the rules' link as a link
    assert buttons_of(consent)[0]["payload"] == "consent:yes" and buttons_of(consent, "link")
    await after(emulator, emulator.user_press(USER, "consent:yes"))
    (phone,) = await after(emulator, emulator.user_text(USER, "Ольга Иванова"))
    assert [b["text"] for b in buttons_of(phone, "request_contact")] == ["📱 Отправить номер"]
    (email,) = await after(emulator, emulator.user_contact(USER, "+7 999 000-11-22"))
    assert "e-mail" in email.text.lower()
    (done,) = await after(emulator, emulator.user_press(USER, "email:skip"))
    assert "<b>Ольга Иванова</b>" in done.text and "+7 999 000-11-22" in done.text
    account, person = await person_of(platform)
    assert person.registered_at and person.phone == "+79990001122" and person.phone_verified  # MAX vouched
    assert account.external_id == str(USER) and account.display_name == f"User{USER}"
    assert [a["notification"] for a in emulator.answers.values()] == ["✓", "✓"] and not emulator.open_callbacks
    assert emulator.too_many == 0


async def test_someone_elses_contact_proves_nothing_and_a_typed_number_stays_unproved(platform: Platform,
                                                                                    emulator: MaxEmulator) -> None:
    await after(emulator, emulator.user_text(USER, "Начать"))
    await after(emulator, emulator.user_press(USER, "consent:yes"))
    await after(emulator, emulator.user_text(USER, "Пётр"))
    refused, asked_again = await after(emulator, emulator.user_contact(USER, "+7 912 345-67-89", own=False), 2)
    assert "чужой контакт" in refused.text and buttons_of(asked_again, "request_contact")
    (email,) = await after(emulator, emulator.user_text(USER, "8 999 000-11-22"))
    assert "e-mail" in email.text.lower()
    await after(emulator, emulator.user_press(USER, "email:skip"))
    _, person = await person_of(platform)
    assert person.phone == "+79990001122" and not person.phone_verified


async def test_a_packs_link_enters_its_campaign(platform: Platform, emulator: MaxEmulator) -> None:
    async with platform.store.transaction() as tx:
        kefir = replace(KEFIR, ends_on=KEFIR.ends_on.replace(year=2099))
        await campaigns.create(tx, kefir, platform.outbox.clock())
        await campaigns.activate(tx, kefir.code, platform.outbox.clock())
    entered, consent = await after(emulator, emulator.user_start(USER, "kefir"), replies=2)
    assert "Кефир" in entered.text and buttons_of(consent)[0]["payload"] == "consent:yes"
    _, person = await person_of(platform)
    async with platform.store.transaction() as tx:
        (membership,) = await tx.campaigns.memberships(person.id)
    assert (membership.campaign, membership.source) == ("kefir", "link")


async def test_a_receipt_photo_through_max_is_read_confirmed_and_accepted(platform: Platform,
                                                                        emulator: MaxEmulator) -> None:
    await register(emulator)
    (confirm,) = await after(emulator, emulator.user_photo(USER, receipt_photo(FISCAL)), timeout=PHOTO_WAIT)
    assert "1 249,50" in confirm.text and "48213" in confirm.text
    assert buttons_of(confirm)[0]["payload"] == "receipt:yes"
    (accepted,) = await after(emulator, emulator.user_press(USER, "receipt:yes"))
    assert "Чек принят" in accepted.text and "62,47" in accepted.text
    assert emulator.too_many == 0 and not emulator.open_callbacks


async def test_a_winner_notice_reaches_max_and_the_press_on_it_acknowledges_it(platform: Platform,
                                                                             emulator: MaxEmulator) -> None:
    await register(emulator)
    _, person = await person_of(platform)
    now = platform.outbox.clock()
    async with platform.store.transaction() as tx:  # as the draw tells a winner: no address, the router picks one
        queued = tx.messages.enqueue(OutgoingMessage(
            person.id, "draw.won", {"campaign": "Осенний кешбэк", "prize": "Телевизор", "winner_id": "7",
                                    "deadline": "01.12.2026 12:00"}, "ru", bulk=True, ack_window_seconds=3600,
            deadline=now + timedelta(days=3)), now)
    platform.outbox.wake()
    (notice,) = (await emulator.wait_for_messages(USER, 6))[5:]
    assert "Телевизор" in notice.text and "01.12.2026 12:00" in notice.text
    assert buttons_of(notice)[0]["payload"] == "/prize 7"

    async def status() -> MessageStatus:
        async with platform.store.transaction() as tx:
            return next(e.status for e in await tx.messages.entries(person.id) if e.id == queued.id)

    async def acknowledged() -> bool:
        return await status() is MessageStatus.ACKNOWLEDGED

    async def awaiting() -> bool:
        return await status() is MessageStatus.AWAITING_ACK

    await eventually(awaiting)  # delivered, and waiting for the winner's answer
    await after(emulator, emulator.user_press(USER, "/prize 7", message_id=notice.mid))
    await eventually(acknowledged)


async def test_people_who_blocked_or_stopped_the_bot_are_marked_unreachable(platform: Platform,
                                                                           emulator: MaxEmulator) -> None:
    await after(emulator, emulator.user_text(OTHER, "Начать"), user=OTHER)
    await emulator.user_stops_bot(OTHER)  # bot_stopped itself marks nothing: the next send learns it
    emulator.block(USER)
    await emulator.user_text(USER, "Начать")

    def marked(user: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            async with platform.store.transaction() as tx:
                found = await tx.people.find_by_account(MAX, str(user))
            return found is not None and found[0].unreachable_since is not None
        return check

    await eventually(marked(USER))
    (_, person), (_, stopped) = await person_of(platform), await person_of(platform, OTHER)
    async with platform.store.transaction() as tx:
        (row,) = await tx.messages.entries(person.id)
        tx.messages.enqueue(OutgoingMessage(stopped.id, "notify.announcement", {"text": "Итоги акции"}, "ru",
                                            bulk=True), platform.outbox.clock())
    assert row.status == "unreachable" and "403 chat.denied" in (row.last_error or "")
    platform.outbox.wake()
    await eventually(marked(OTHER))
    assert emulator.messages_to(USER) == [] and len(emulator.messages_to(OTHER)) == 1


async def test_a_rush_of_people_is_answered_within_maxs_limits(platform: Platform, emulator: MaxEmulator) -> None:
    people = range(3101, 3141)
    await after(emulator, emulator.user_text(USER, "Начать"))
    for user in people:
        await emulator.user_text(user, "Начать")
    helped, asked_again = await after(emulator, emulator.user_text(USER, "/help"), replies=2)  # two to one chat
    assert "/link" in helped.text and "согласие" in asked_again.text
    for user in people:
        (consent,) = await emulator.wait_for_messages(user, 1, timeout=15)
        assert "согласие" in consent.text
    assert emulator.too_many == 0 and most_in_a_second(emulator) <= 30


# webhook mode ------------------------------------------------------------------------------------


@pytest.fixture
async def webhook_platform(tmp_path: Path, emulator: MaxEmulator,
                           monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    port = free_port()
    monkeypatch.setenv("MAX_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MAX_PUBLIC_URL", f"http://127.0.0.1:{port}")  # loopback: the emulator allows plain HTTP
    running = await started(platform_settings(tmp_path, bot_mode="webhook", web_port=port), plugins=PLUGINS)
    yield running
    await running.stop()


def update(user: int, mid: str, text: str = "/help") -> dict[str, Any]:
    return {"update_type": "message_created", "timestamp": 1_700_000_000_000, "user_locale": "ru", "message": {
        "sender": {"user_id": user, "first_name": "Мария", "is_bot": False},
        "recipient": {"chat_id": DIALOG_BASE + user, "chat_type": "dialog"},
        "body": {"mid": mid, "seq": 1, "text": text}}}


def stored_updates(tmp_path: Path) -> int:
    with contextlib.closing(sqlite3.connect(tmp_path / "platform.db", timeout=10)) as db:
        return int(db.execute("SELECT count(*) FROM inbox").fetchone()[0])


async def test_webhook_mode_subscribes_itself_with_the_secret_and_updates_arrive_by_it(
        webhook_platform: Platform, emulator: MaxEmulator) -> None:
    subscription = emulator.feed.subscription
    assert subscription is not None and subscription.url == f"{webhook_platform.web_url}/webhook/max"
    assert subscription.secret == SECRET and subscription.update_types and "message_callback" in \
        subscription.update_types
    (consent,) = await after(emulator, emulator.user_text(USER, "Начать"))
    await after(emulator, emulator.user_press(USER, "consent:yes"))
    assert "согласие" in consent.text and subscription.pusher.refusals == 0 and not emulator.open_callbacks
    assert emulator.feed.polls == 0  # nothing long-polls in webhook mode


async def test_the_webhook_refuses_forged_and_broken_bodies_and_takes_a_redelivery_once(
        webhook_platform: Platform, emulator: MaxEmulator, tmp_path: Path) -> None:
    await after(emulator, emulator.user_text(USER, "Начать"))
    before = stored_updates(tmp_path)
    async with aiohttp.ClientSession(webhook_platform.web_url) as http:
        for headers in ({}, {"X-Max-Bot-Api-Secret": ""}, {"X-Max-Bot-Api-Secret": SECRET[:-1]},
                        {"X-Max-Bot-Api-Secret": SECRET + "x"}, {"X-Max-Bot-Api-Secret": "x" * len(SECRET)}):
            forged = await http.post("/webhook/max", json=update(USER, "mid.forged"), headers=headers)
            assert forged.status == 401
        assert stored_updates(tmp_path) == before  # nothing a stranger sent was kept
        signed = {"X-Max-Bot-Api-Secret": SECRET}
        assert (await http.post("/webhook/max", data=b"{not json", headers=signed)).status == 400
        for not_an_update in ([1, 2], {"hello": "world"}, {"update_type": 5, "timestamp": 1},
                              {"update_type": "message_created"}, "message_created"):
            assert (await http.post("/webhook/max", json=not_an_update, headers=signed)).status == 400
        assert stored_updates(tmp_path) == before
        first = await http.post("/webhook/max", json=update(USER, "mid.direct.1"), headers=signed)
        again = await http.post("/webhook/max", json=update(USER, "mid.direct.1"), headers=signed)
        assert (first.status, again.status) == (200, 200)  # MAX resends when unsure: taken once
    helped, asked_again = (await emulator.wait_for_messages(USER, 3))[1:]
    assert "/link" in helped.text and "согласие" in asked_again.text
    await asyncio.sleep(0.5)  # the replies to a redelivery taken twice would have come by now
    assert len(emulator.messages_to(USER)) == 3 and stored_updates(tmp_path) == before + 1


async def test_the_webhook_answers_503_while_the_database_is_away_and_max_sends_it_again(
        webhook_platform: Platform, emulator: MaxEmulator, tmp_path: Path) -> None:
    await after(emulator, emulator.user_text(USER, "Начать"))
    subscription = emulator.feed.subscription
    assert subscription is not None
    with sqlite3.connect(tmp_path / "platform.db", timeout=10) as db:
        db.execute("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        await emulator.user_text(USER, "/help")
        assert await until(lambda: subscription.pusher.refusals >= 2, 10)  # answered 503, so sent again
        assert emulator.messages_to(USER)[1:] == []
    finally:
        with sqlite3.connect(tmp_path / "platform.db", timeout=10) as db:
            db.execute("ALTER TABLE inbox_away RENAME TO inbox")
    helped, _asked_again = (await emulator.wait_for_messages(USER, 3))[1:]
    assert "/link" in helped.text and emulator.feed.pending == []


# the sandbox ---------------------------------------------------------------------------------------


async def test_the_sandbox_page_chats_as_a_max_user_through_the_emulator(tmp_path: Path,
                                                                        emulator: MaxEmulator) -> None:
    running = await started(platform_settings(tmp_path, sandbox=True), plugins=(max_channel.PLUGIN,))
    try:
        twin = running.sandbox.emulator("max") if running.sandbox else None
        assert isinstance(twin, MaxEmulator) and twin is not emulator  # an emulator of its own, a bot of its own
        async with aiohttp.ClientSession(running.web_url) as http:
            (column,) = await (await http.get("/sandbox/api/channels")).json()
            assert column == {"name": "max", "title": "MAX", "user": 3001, "contact": True}
            assert (await http.post("/sandbox/api/max/3001/text", json={"text": "Начать"})).status == 200
            await twin.wait_for_messages(3001, 1)
            (shown,) = await (await http.get("/sandbox/api/max/3001/messages")).json()
            agree = shown["buttons"][0][0]
            assert agree["payload"] == "consent:yes" and shown["html"] is True
            pressed = await http.post("/sandbox/api/max/3001/button", json={"payload": agree["payload"],
                                                                            "label": agree["label"]})
            assert pressed.status == 200
            await twin.wait_for_messages(3001, 2)
            assert (await http.post("/sandbox/api/max/3001/text", json={"text": "Анна"})).status == 200
            phone = (await twin.wait_for_messages(3001, 3))[-1]
            assert buttons_of(phone, "request_contact")
            shared = await http.post("/sandbox/api/max/3001/contact", json={"phone": "+79123456789"})
            assert shared.status == 200
            await twin.wait_for_messages(3001, 4)
            never_shown = await http.post("/sandbox/api/max/3001/button", json={"payload": "admin:grant"})
            assert never_shown.status == 400
    finally:
        await running.stop()


# run.py killed mid-burst ----------------------------------------------------------------------------

BURST_USERS = range(3201, 3221)
RECEIPT_SENDERS = range(3301, 3306)  # registered beforehand: a receipt typed before the kill, confirmed after it
MESSAGES_EACH = 4
STOP_AFTER_REPLIES = 16  # of the 40 due before the kill
RECOVERY_TIMEOUT = 60.0
COMMAND = re.compile(r"/x\d+m\d+")
def burst_replies(emulator: MaxEmulator) -> Counter[tuple[int, str]]:
    found: Counter[tuple[int, str]] = Counter()
    for user in BURST_USERS:
        for message in emulator.messages_to(user):
            answered = COMMAND.search(message.text)
            found[(user, answered.group() if answered else message.text)] += 1
    return found


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_kill_mid_burst_loses_no_stored_update_and_answers_none_twice(
        tmp_path: Path, mode: str, record_property: Callable[[str, object], None]) -> None:
    emulator = MaxEmulator()
    await emulator.start()
    database, port = tmp_path / "promo.db", free_port()
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_", "OK_", "MAX_", "PUBLIC_URL", "WEBHOOK_"))}
    environment.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{database}", WEB_HOST="127.0.0.1", WEB_PORT=str(port), BOT_MODE=mode,
        SANDBOX="false", PHOTO_WORKERS="1", PYTHONPATH=str(ROOT), MAX_BOT_TOKEN=emulator.token,
        MAX_API_BASE=emulator.base_url, MAX_WEBHOOK_SECRET=SECRET, MAX_PUBLIC_URL=f"http://127.0.0.1:{port}")
    first = PlatformProcess(tmp_path, environment, "first")
    second = PlatformProcess(tmp_path, environment, "second")
    messages = [(user, f"/x{user}m{index}") for index in range(MESSAGES_EACH) for user in BURST_USERS]
    await seed_registered(environment["DATABASE_URL"], [("max", str(user)) for user in RECEIPT_SENDERS])
    try:
        await first.start()
        if mode == "webhook":
            assert emulator.feed.subscription is not None
        for user, text in messages[:len(messages) // 2]:
            await emulator.user_text(user, text)
        for user in RECEIPT_SENDERS:
            await emulator.user_text(user, receipt(user * 10 + 1))
        replying = await until(lambda: sum(burst_replies(emulator).values()) >= STOP_AFTER_REPLIES, RECOVERY_TIMEOUT)
        assert replying, first.log_tail()
        first.kill()
        assert await first.exit_code() == -9
        unrecorded = unrecorded_replies(database, "max")  # sent or not, the killed process had not recorded them
        record_property("answered_at_kill", sum(burst_replies(emulator).values()))
        record_property("stored_unprocessed_and_queued_unsent_at_kill", unsettled(database))
        record_property("acknowledged_at_kill", emulator.feed.acknowledged())
        for user, text in messages[len(messages) // 2:]:  # while it is down: MAX keeps them
            await emulator.user_text(user, text)
        await second.start()
        answered = await until(lambda: all(burst_replies(emulator)[m] for m in messages), RECOVERY_TIMEOUT, 0.05)
        settled = await until(lambda: unsettled(database) == (0, 0), RECOVERY_TIMEOUT, every=0.1)
        assert answered and settled, f"unanswered: {[m for m in messages if not burst_replies(emulator)[m]]}\n" \
                                     f"{second.log_tail()}"
        await asyncio.sleep(0.5)  # replies sent twice would have come by now
        replies = burst_replies(emulator)
        assert set(replies) == set(messages), f"replies to no message of the burst: {set(replies) - set(messages)}"
        duplicates = {reply for reply, n in replies.items() if n > 1}
        record_property("duplicates", len(duplicates))
        per_chat = Counter(chat for chat, _ in duplicates)
        # MAX takes no idempotency key: only a send in flight at the kill (not recorded as sent) may show twice
        assert all(n <= 1 for n in per_chat.values()) and duplicates <= unrecorded, (duplicates, unrecorded)
        lost = events_without_their_effect(database)
        assert lost == dict.fromkeys(lost, 0), lost
        assert emulator.feed.pending == [] and emulator.too_many == 0
        for user in RECEIPT_SENDERS:  # the receipt read before the kill is still waiting for its "yes"
            await emulator.wait_for_messages(user, 1, 30)
            await emulator.user_press(user, "receipt:yes")
        assert await until(lambda: all(any("Чек принят" in m.text for m in emulator.messages_to(user))
                                       for user in RECEIPT_SENDERS), RECOVERY_TIMEOUT, every=0.05)
        assert await until(lambda: unsettled(database) == (0, 0), RECOVERY_TIMEOUT, every=0.1)
        ledger = await check_ledger(environment["DATABASE_URL"], {("max", str(user)): {user * 10 + 1}
                                                                  for user in RECEIPT_SENDERS})
        assert ledger.receipts == len(RECEIPT_SENDERS), ledger
    finally:
        await first.close()
        await second.close()
        await emulator.stop()
