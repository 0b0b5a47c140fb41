"""OK through the whole platform (``run.bootstrap``) against our OK Graph API emulator, over real HTTP:
registration, a pack's link, a receipt photo, a winner notice, a blocked person; and the webhook endpoint
under forged, broken and redelivered bodies, and with the database away."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.emulators.ok_api import OkEmulator, OkMessage
from core import campaigns
from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from core.identity import Person
from run import Platform
from tests.images import receipt_photo
from tests.platform import eventually, platform_settings, point_channels_at, started
from tests.test_campaigns import KEFIR

USER, OTHER = 4001, 4002
SECRET = "ok-webhook-secret-0123456789"
PHOTO_WAIT = 30.0  # decoding a QR photo on two shared cores
FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


@pytest.fixture
async def ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OkEmulator]:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    emulator = OkEmulator()
    await emulator.start()
    point_channels_at(monkeypatch, None, None, OK_BOT_TOKEN=emulator.token, OK_API_BASE=emulator.base_url,
                      OK_GROUP_ID=emulator.group_id, OK_WEBHOOK_SECRET=None, OK_PUBLIC_URL=None, PUBLIC_URL=None)
    yield emulator
    await emulator.stop()


@pytest.fixture
async def platform(tmp_path: Path, ok: OkEmulator) -> AsyncIterator[Platform]:
    running = await started(platform_settings(tmp_path, quiet_hours="off"))
    await asyncio.wait_for(ok.polling.wait(), 10)  # OK's long poll is live: nothing said from now on is missed
    yield running
    await running.stop()


async def after(ok: OkEmulator, action: Awaitable[Any], replies: int = 1, timeout: float = 10.0,
                user: int = USER) -> list[OkMessage]:
    """What the person was sent in answer to ``action``."""
    before = ok.outbox.count(user)
    await action
    return (await ok.wait_for_messages(user, before + replies, timeout))[before:before + replies]


async def register(ok: OkEmulator, user: int = USER) -> OkMessage:
    await after(ok, ok.user_text(user, "Начать"), user=user)
    await after(ok, ok.user_press(user, "consent:yes"), user=user)
    await after(ok, ok.user_text(user, "Ольга Иванова"), user=user)
    await after(ok, ok.user_text(user, "8 999 000-11-22"), user=user)
    (done,) = await after(ok, ok.user_press(user, "email:skip"), user=user)
    return done


async def person_of(platform: Platform, ok: OkEmulator, user: int = USER) -> tuple[Any, Person]:
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(ChannelName("ok"), ok.chat_of(user))
    assert found is not None
    return found


async def test_registration_through_ok_buttons_and_typed_answers(platform: Platform, ok: OkEmulator) -> None:
    (consent,) = await after(ok, ok.user_text(USER, "Начать"))
    assert consent.keyboard is not None and consent.keyboard[0][0]["payload"] == "consent:yes"
    assert all(len(b["text"]) <= 40 for row in consent.keyboard for b in row)
    assert "<" not in consent.text and "http" in consent.text  # plain text, the rules' link spelled out
    await after(ok, ok.user_press(USER, "consent:yes"))
    await after(ok, ok.user_text(USER, "Ольга Иванова"))
    (email,) = await after(ok, ok.user_text(USER, "8 999 000-11-22"))
    assert "e-mail" in email.text.lower()
    (done,) = await after(ok, ok.user_press(USER, "email:skip"))
    assert "вы зарегистрированы" in done.text and "Ольга Иванова" in done.text
    account, person = await person_of(platform, ok)
    assert person.registered_at and person.phone == "+79990001122" and not person.phone_verified
    assert account.external_id == ok.chat_of(USER)
    assert list(ok.answers.values()) == ["✓", "✓"] and not ok.open_callbacks  # every press answered


async def test_a_packs_link_enters_its_campaign(platform: Platform, ok: OkEmulator) -> None:
    async with platform.store.transaction() as tx:
        kefir = replace(KEFIR, ends_on=KEFIR.ends_on.replace(year=2099))
        await campaigns.create(tx, kefir, platform.outbox.clock())
        await campaigns.activate(tx, kefir.code, platform.outbox.clock())
    entered, _consent = await after(ok, ok.user_start(USER, "kefir"), replies=2)
    assert "Кефир" in entered.text
    _, person = await person_of(platform, ok)
    async with platform.store.transaction() as tx:
        (membership,) = await tx.campaigns.memberships(person.id)
    assert (membership.campaign, membership.source) == ("kefir", "link")


async def test_a_receipt_photo_through_ok_is_read_confirmed_and_accepted(platform: Platform, ok: OkEmulator) -> None:
    await register(ok)
    (confirm,) = await after(ok, ok.user_photo(USER, receipt_photo(FISCAL)), timeout=PHOTO_WAIT)
    assert "1 249,50" in confirm.text and "48213" in confirm.text
    assert confirm.keyboard is not None and confirm.keyboard[0][0]["payload"] == "receipt:yes"
    (accepted,) = await after(ok, ok.user_press(USER, "receipt:yes"))
    assert "Чек принят" in accepted.text and "62,47" in accepted.text


async def test_a_winner_notice_reaches_ok_and_the_press_on_it_acknowledges_it(platform: Platform,
                                                                            ok: OkEmulator) -> None:
    await register(ok)
    _, person = await person_of(platform, ok)
    now = platform.outbox.clock()
    async with platform.store.transaction() as tx:  # as the draw tells a winner: no address, the router picks one
        queued = tx.messages.enqueue(OutgoingMessage(
            person.id, "draw.won", {"campaign": "Осенний кешбэк", "prize": "Телевизор", "winner_id": "7",
                                    "deadline": "01.12.2026 12:00"}, "ru", bulk=True, ack_window_seconds=3600,
            deadline=now + timedelta(days=3)), now)
    platform.outbox.wake()
    (notice,) = (await ok.wait_for_messages(USER, 6))[5:]
    assert "Телевизор" in notice.text and "01.12.2026 12:00" in notice.text
    assert notice.keyboard is not None and notice.keyboard[0][0]["payload"] == "/prize 7"

    async def status() -> MessageStatus:
        async with platform.store.transaction() as tx:
            return next(e.status for e in await tx.messages.entries(person.id) if e.id == queued.id)

    async def acknowledged() -> bool:
        return await status() is MessageStatus.ACKNOWLEDGED

    async def awaiting() -> bool:
        return await status() is MessageStatus.AWAITING_ACK

    await eventually(awaiting)  # delivered, and waiting for the winner's answer
    await after(ok, ok.user_press(USER, "/prize 7", message_id=notice.mid))
    await eventually(acknowledged)


async def test_a_person_who_blocked_the_group_is_marked_unreachable(platform: Platform, ok: OkEmulator) -> None:
    ok.block(USER)
    await ok.user_text(USER, "Начать")

    async def marked() -> bool:
        async with platform.store.transaction() as tx:
            found = await tx.people.find_by_account(ChannelName("ok"), ok.chat_of(USER))
        return found is not None and found[0].unreachable_since is not None

    await eventually(marked)
    async with platform.store.transaction() as tx:
        (row,) = await tx.messages.entries()
    assert row.status == "unreachable" and "10 PERMISSION_DENIED" in (row.last_error or "")
    assert ok.messages_to(USER) == []


# webhook mode ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def webhook_platform(tmp_path: Path, ok: OkEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    port = free_port()
    monkeypatch.setenv("OK_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("OK_PUBLIC_URL", f"http://127.0.0.1:{port}")
    running = await started(platform_settings(tmp_path, bot_mode="webhook", web_port=port))
    yield running
    await running.stop()


def update(chat: str, mid: str, text: str = "/help") -> dict[str, Any]:
    return {"webhookType": "MESSAGE_CREATED", "sender": {"user_id": "user:1", "name": "Мария"},
            "recipient": {"chat_id": chat}, "message": {"text": text, "mid": mid, "seq": 1}, "timestamp": 1}


async def test_webhook_mode_subscribes_itself_and_ok_updates_arrive_by_it(webhook_platform: Platform,
                                                                         ok: OkEmulator) -> None:
    url = f"{webhook_platform.web_url}/webhook/ok/{SECRET}"
    assert list(ok.webhooks) == [url] and not ok.long_polling
    (consent,) = await after(ok, ok.user_text(USER, "Начать"))
    await after(ok, ok.user_press(USER, "consent:yes"))
    assert "согласие" in consent.text and ok.webhooks[url][0].refusals == 0


async def test_the_webhook_refuses_forged_and_broken_bodies_and_takes_a_redelivery_once(
        webhook_platform: Platform, ok: OkEmulator) -> None:
    await after(ok, ok.user_text(USER, "Начать"))
    chat, path = ok.chat_of(USER), f"/webhook/ok/{SECRET}"
    async with aiohttp.ClientSession(webhook_platform.web_url) as http:
        for wrong in ("x" * len(SECRET), SECRET[:-1], SECRET + "x"):  # another group's URL, or a guess
            assert (await http.post(f"/webhook/ok/{wrong}", json=update(chat, "mid:forged"))).status == 403
        assert (await http.post("/webhook/ok", json=update(chat, "mid:forged"))).status in (404, 405)
        assert (await http.post(path, data=b"{not json")).status == 400
        for not_an_update in ([1, 2], {"hello": "world"}, {"webhookType": 5}, "MESSAGE_CREATED"):
            assert (await http.post(path, json=not_an_update)).status == 400
        first = await http.post(path, json=update(chat, "mid:direct.1"))
        again = await http.post(path, json=update(chat, "mid:direct.1"))  # OK resends when unsure
        assert (first.status, again.status) == (200, 200)
    helped, asked_again = (await ok.wait_for_messages(USER, 3))[1:]
    assert "регистрацию" in helped.text and "/link" in helped.text  # /help, as a guest hears it
    assert "согласие" in asked_again.text  # and the question it interrupted
    await asyncio.sleep(0.5)  # the replies to a redelivery taken twice would have come by now
    assert len(ok.messages_to(USER)) == 3
    async with aiohttp.ClientSession(webhook_platform.web_url) as http:  # typed as an update, shaped like none
        odd = [{"webhookType": "MESSAGE_CREATED", "recipient": {"chat_id": chat}, "message": [1], "timestamp": 2},
               {"webhookType": "MESSAGE_CREATED", "recipient": "nobody"}, {"webhookType": "SOMETHING_NEW"}]
        assert [(await http.post(path, json=body)).status for body in odd] == [200, 200, 200]
    (cannot,) = (await ok.wait_for_messages(USER, 4))[3:]
    assert "не могу" in cannot.text  # answered; the others hold nothing for us


async def test_the_webhook_answers_503_while_the_database_is_away_and_ok_retries(
        webhook_platform: Platform, ok: OkEmulator, tmp_path: Path) -> None:
    database = tmp_path / "platform.db"
    chat, path = ok.chat_of(USER), f"/webhook/ok/{SECRET}"
    await after(ok, ok.user_text(USER, "Начать"))
    with sqlite3.connect(database, timeout=10) as db:
        db.execute("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        async with aiohttp.ClientSession(webhook_platform.web_url) as http:
            away = await http.post(path, json=update(chat, "mid:while-away"))
            assert away.status == 503
    finally:
        with sqlite3.connect(database, timeout=10) as db:
            db.execute("ALTER TABLE inbox_away RENAME TO inbox")
    async with aiohttp.ClientSession(webhook_platform.web_url) as http:
        back = await http.post(path, json=update(chat, "mid:while-away"))  # OK sends it again
        assert back.status == 200
    await ok.wait_for_messages(USER, 2)


# the sandbox ---------------------------------------------------------------------------------------


async def test_the_sandbox_page_chats_as_an_ok_user_through_the_emulator(tmp_path: Path, ok: OkEmulator) -> None:
    from bots.ok import PLUGIN

    running = await started(platform_settings(tmp_path, sandbox=True), plugins=(PLUGIN,))
    try:
        twin = running.sandbox.emulator("ok") if running.sandbox else None
        assert isinstance(twin, OkEmulator) and twin is not ok  # an emulator of its own, a group of its own
        async with aiohttp.ClientSession(running.web_url) as http:
            (column,) = await (await http.get("/sandbox/api/channels")).json()
            assert column == {"name": "ok", "title": "OK", "user": 4001, "contact": False}
            assert (await http.post("/sandbox/api/ok/4001/text", json={"text": "Начать"})).status == 200
            await twin.wait_for_messages(4001, 1)
            (shown,) = await (await http.get("/sandbox/api/ok/4001/messages")).json()
            agree = shown["buttons"][0][0]
            assert agree["payload"] == "consent:yes" and shown["html"] is False
            pressed = await http.post("/sandbox/api/ok/4001/button", json={"payload": agree["payload"],
                                                                           "label": agree["label"]})
            assert pressed.status == 200
            await twin.wait_for_messages(4001, 2)
            never_shown = await http.post("/sandbox/api/ok/4001/button", json={"payload": "admin:grant"})
            assert never_shown.status == 400
    finally:
        await running.stop()
