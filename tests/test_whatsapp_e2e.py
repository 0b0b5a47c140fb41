"""WhatsApp through the whole platform (``run.bootstrap``) against our Cloud API emulator, over real HTTP: the
webhook subscribed by the channel itself, registration with the number WhatsApp vouches for, receipts typed and
photographed, winner notices inside the 24-hour window and outside it (the approved template, or the person's
other channel with the reason kept); the webhook under forged, replayed and broken bodies and with the database
away; and the sandbox page."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots import whatsapp
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.whatsapp_api import APP_SECRET, WhatsAppEmulator
from bots.emulators.whatsapp_users import WaMessage
from bots.registry import CHANNELS
from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from core.identity import Person
from run import Platform
from tests.images import receipt_photo
from tests.platform import eventually, platform_settings, point_channels_at, started

USER, TG_USER = 79001234567, 1001
WHATSAPP, TELEGRAM = ChannelName("whatsapp"), ChannelName("telegram")
VERIFY = "e2e-verify-token-0123456789"
PLUGINS = CHANNELS
APPROVED = {"draw.won": {"name": "prize_won", "language": "ru", "params": ["campaign", "prize", "deadline"]}}
PHOTO_WAIT = 30.0  # decoding a QR photo on two shared cores
FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
FISCAL_PHOTO = "t=20260316T1010&s=800.00&fn=7380440700123456&i=48214&fp=2964503818&n=1"
WON = {"campaign": "Осенний кешбэк", "prize": "Телевизор", "winner_id": "7", "deadline": "01.12.2026 12:00"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def wa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WhatsAppEmulator]:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    emulator = WhatsAppEmulator(pair_burst=None)  # the platform's own pacing is off in these tests
    await emulator.start()
    emulator.approve("prize_won", "ru", "{{1}}: вы выиграли «{{2}}». Напишите нам до {{3}}.")
    yield emulator
    await emulator.stop()


def point_at(monkeypatch: pytest.MonkeyPatch, wa: WhatsAppEmulator, port: int, telegram: TelegramEmulator | None = None,
             templates: dict[str, Any] | None = None) -> None:
    point_channels_at(monkeypatch, telegram, None, OK_BOT_TOKEN=None, PUBLIC_URL=None,
                      WHATSAPP_TOKEN=wa.token, WHATSAPP_PHONE_ID=wa.phone_id, WHATSAPP_APP_ID=wa.app_id,
                      WHATSAPP_APP_SECRET=APP_SECRET, WHATSAPP_VERIFY_TOKEN=VERIFY, WHATSAPP_API_BASE=wa.base_url,
                      WHATSAPP_PUBLIC_URL=f"http://127.0.0.1:{port}",
                      WHATSAPP_TEMPLATES=json.dumps(APPROVED if templates is None else templates))


async def platform_on(tmp_path: Path, port: int) -> Platform:
    return await started(platform_settings(tmp_path, quiet_hours="off", web_port=port, rate_limits=False),
                         plugins=PLUGINS)


@pytest.fixture
async def platform(tmp_path: Path, wa: WhatsAppEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    port = free_port()
    point_at(monkeypatch, wa, port)
    running = await platform_on(tmp_path, port)
    yield running
    await running.stop()


async def after(wa: WhatsAppEmulator, action: Awaitable[Any], replies: int = 1, timeout: float = 10.0,
                user: int = USER) -> list[WaMessage]:
    """What the person was sent in answer to ``action``."""
    before = wa.outbox.count(user)
    await action
    return (await wa.wait_for_messages(user, before + replies, timeout))[before:before + replies]


async def register(wa: WhatsAppEmulator, user: int = USER) -> WaMessage:
    await after(wa, wa.user_text(user, "Начать"), user=user)
    await after(wa, wa.user_press(user, "consent:yes"), user=user)
    await after(wa, wa.user_text(user, "Ольга Иванова"), user=user)
    await after(wa, wa.user_share_contact(user), user=user)
    (done,) = await after(wa, wa.user_press(user, "email:skip"), user=user)
    return done


async def person_of(platform: Platform, wa: WhatsAppEmulator, user: int = USER) -> tuple[Any, Person]:
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(WHATSAPP, wa.bsuid_of(user))
    assert found is not None
    return found


async def age_on_the_platform(platform: Platform, wa: WhatsAppEmulator, hours: float) -> None:
    """The platform's side of a closed window: the person's last message there ``hours`` ago."""
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(WHATSAPP, wa.bsuid_of(USER))
        assert found is not None
        found[0].last_seen_at = platform.outbox.clock() - timedelta(hours=hours)
        await tx.people.touch_account(found[0])


async def notify(platform: Platform, person: Person, template: str, params: dict[str, Any]) -> int:
    now = platform.outbox.clock()
    async with platform.store.transaction() as tx:  # as the draw tells a winner: no address, the router picks one
        queued = tx.messages.enqueue(OutgoingMessage(person.id, template, params, "ru", bulk=True,
                                                     ack_window_seconds=3600, deadline=now + timedelta(days=3)), now)
    platform.outbox.wake()
    return queued.id


async def decision_of(platform: Platform, message_id: int) -> Any:
    async def latest() -> Any:
        async with platform.store.transaction() as tx:
            decisions = await tx.routes.decisions(message_id=message_id)
        return decisions[0] if decisions else None
    return await eventually(latest)


async def test_registration_through_whatsapp_with_the_number_whatsapp_vouches_for(platform: Platform,
                                                                                 wa: WhatsAppEmulator) -> None:
    assert wa.callback_url == f"{platform.web_url}/webhook/whatsapp"  # subscribed by the channel, handshake passed
    (consent,) = await after(wa, wa.user_text(USER, "Начать"))
    assert consent.kind == "interactive" and [b["payload"] for b in consent.buttons[0]] == [
        "consent:yes", "consent:no", "/link"]
    assert all(len(b["label"]) <= 20 for row in consent.buttons for b in row)
    assert "<" not in consent.text and "http" in consent.text  # the rules' link spelled out, as a plain channel
    await after(wa, wa.user_press(USER, "consent:yes"))
    (ask_phone,) = await after(wa, wa.user_text(USER, "Ольга Иванова"))
    assert ask_phone.buttons == [[{"label": "Поделиться номером", "contact": True}]]  # WhatsApp's own request
    (email,) = await after(wa, wa.user_share_contact(USER))
    assert "e-mail" in email.text.lower()
    (done,) = await after(wa, wa.user_press(USER, "email:skip"))
    assert done.text.startswith("Готово, *Ольга Иванова*, вы зарегистрированы!")  # <b> as WhatsApp's own bold
    account, person = await person_of(platform, wa)
    assert person.registered_at and person.phone == f"+{USER}" and person.phone_verified
    assert account.external_id == wa.bsuid_of(USER)  # the BSUID: it stays when the person hides their number


async def test_a_typed_receipt_and_a_photographed_one_are_read_confirmed_and_accepted(
        platform: Platform, wa: WhatsAppEmulator) -> None:
    await register(wa)
    (confirm,) = await after(wa, wa.user_text(USER, FISCAL))
    assert "1 249,50" in confirm.text and "48213" in confirm.text
    assert confirm.buttons[0][0]["payload"] == "receipt:yes"
    (accepted,) = await after(wa, wa.user_press(USER, "receipt:yes", message_id=confirm.id))
    assert "Чек принят" in accepted.text and "62,47" in accepted.text
    (photographed,) = await after(wa, wa.user_photo(USER, receipt_photo(FISCAL_PHOTO)), timeout=PHOTO_WAIT)
    assert "800,00" in photographed.text and "48214" in photographed.text
    (second,) = await after(wa, wa.user_press(USER, "receipt:yes", message_id=photographed.id))
    assert "Чек принят" in second.text


async def test_a_winner_notice_inside_the_window_is_answered_by_its_button(platform: Platform,
                                                                           wa: WhatsAppEmulator) -> None:
    await register(wa)
    _, person = await person_of(platform, wa)
    queued = await notify(platform, person, "draw.won", WON)
    (notice,) = (await wa.wait_for_messages(USER, 6))[5:]
    assert notice.kind == "interactive" and "«Телевизор»" in notice.text
    assert notice.buttons[0][0]["payload"] == "/prize 7"

    async def status() -> MessageStatus:
        async with platform.store.transaction() as tx:
            return next(e.status for e in await tx.messages.entries(person.id) if e.id == queued)

    async def awaiting() -> bool:
        return await status() is MessageStatus.AWAITING_ACK

    async def acknowledged() -> bool:
        return await status() is MessageStatus.ACKNOWLEDGED

    await eventually(awaiting)
    await after(wa, wa.user_press(USER, "/prize 7", message_id=notice.id))
    await eventually(acknowledged)


@pytest.mark.parametrize("in_statuses", [True, False], ids=["refused-in-a-status", "refused-in-the-answer"])
async def test_a_winner_notice_outside_the_window_goes_as_the_approved_template(
        platform: Platform, wa: WhatsAppEmulator, in_statuses: bool) -> None:
    await register(wa)
    _, person = await person_of(platform, wa)
    wa.errors_in_statuses = in_statuses
    wa.age(USER, 25)
    await age_on_the_platform(platform, wa, 25)  # the gate lets it through: draw.won has an approved template
    queued = await notify(platform, person, "draw.won", WON)
    (notice,) = (await wa.wait_for_messages(USER, 6))[5:]
    assert (notice.kind, notice.template) == ("template", "prize_won")
    assert notice.params == ["Осенний кешбэк", "Телевизор", "01.12.2026 12:00"]
    decision = await decision_of(platform, queued)
    assert decision.channel == WHATSAPP and decision.outcome == "delivered"
    (reply,) = await after(wa, wa.user_quick_reply(USER, "Забрать приз"))  # back in the window: free-form again
    assert reply.kind != "template"


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator()
    await emulator.start()
    emulator.set_user(TG_USER, "Ольга")
    yield emulator
    await emulator.stop()


async def test_outside_the_window_without_a_template_the_notice_goes_to_the_persons_other_channel(
        tmp_path: Path, wa: WhatsAppEmulator, telegram: TelegramEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    point_at(monkeypatch, wa, port, telegram)
    running = await platform_on(tmp_path, port)
    try:
        await register(wa)
        _, person = await person_of(running, wa)
        async with running.store.transaction() as tx:  # their Telegram too, seen there a week ago
            account = await tx.people.add_account(person.id, TELEGRAM, str(TG_USER), "Ольга", running.outbox.clock())
            account.last_seen_at = running.outbox.clock() - timedelta(days=7)
            await tx.people.touch_account(account)
        wa.age(USER, 25)
        await age_on_the_platform(running, wa, 25)
        first = await notify(running, person, "notify.announcement", {"text": "Итоги розыгрыша"})
        (notice,) = await telegram.wait_for_messages(TG_USER, 1)
        assert "Итоги розыгрыша" in notice.text
        decision = await decision_of(running, first)
        skipped = {c.channel: c.dropped for c in decision.candidates}
        assert decision.channel == TELEGRAM and str(skipped[WHATSAPP]).startswith("session window closed")
        # the platform thinks the window open, WhatsApp knows better: the channel's own "session window closed"
        wa.errors_in_statuses = False
        await age_on_the_platform(running, wa, 1)
        second = await notify(running, person, "notify.announcement", {"text": "Новая акция"})
        await telegram.wait_for_messages(TG_USER, 2)
        decision = await decision_of(running, second)
        tried = {c.channel: c.outcome for c in decision.candidates}
        assert decision.channel == TELEGRAM and str(tried[WHATSAPP]).startswith("failed session window closed")
        assert len(wa.messages_to(USER)) == 5  # registration only
        async with running.store.transaction() as tx:
            found = await tx.people.find_by_account(WHATSAPP, wa.bsuid_of(USER))
        assert found is not None and found[0].unreachable_since is None  # a closed window is no block
    finally:
        await running.stop()


# the webhook endpoint ----------------------------------------------------------------------------


def signed(body: Any, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"Content-Type": "application/json",
                 "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


def update(wa: WhatsAppEmulator, wamid: str, text: str = "/help", at: float | None = None) -> dict[str, Any]:
    bsuid = wa.bsuid_of(USER)
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": wa.phone_id},
        "contacts": [{"profile": {"name": "Ольга"}, "user_id": bsuid, "wa_id": str(USER)}],
        "messages": [{"from": str(USER), "from_user_id": bsuid, "id": wamid, "type": "text",
                      "timestamp": str(int(at or time.time())), "text": {"body": text}}]}}]}]}


async def test_the_webhook_stores_only_signed_fresh_updates_and_takes_a_redelivery_once(
        platform: Platform, wa: WhatsAppEmulator) -> None:
    path = "/webhook/whatsapp"
    async with aiohttp.ClientSession(platform.web_url) as http:
        raw, headers = signed(update(wa, "wamid.direct-0001"))
        assert (await http.post(path, data=raw)).status == 401
        assert (await http.post(path, data=raw, headers=signed(update(wa, "wamid.x"), "stolen")[1])).status == 403
        old_raw, old_headers = signed(update(wa, "wamid.replayed-01", at=time.time() - 30 * 86400))
        assert (await http.post(path, data=old_raw, headers=old_headers)).status == 403
        assert (await http.post(path, data=b"[]", headers=signed([])[1])).status == 400
        await asyncio.sleep(0.3)
        async with platform.store.transaction() as tx:
            assert await tx.people.find_by_account(WHATSAPP, wa.bsuid_of(USER)) is None  # nothing was taken
        await after(wa, wa.user_text(USER, "Начать"))  # the person writes (WhatsApp knows them from now on)
        first = await http.post(path, data=raw, headers=headers)
        again = await http.post(path, data=raw, headers=headers)  # Meta resends when unsure
        assert (first.status, again.status) == (200, 200)
    helped, asked_again = (await wa.wait_for_messages(USER, 3))[1:]
    assert "регистрацию" in helped.text and "/link" in helped.text  # /help, as a guest hears it
    assert "согласие" in asked_again.text  # and the question it interrupted
    await asyncio.sleep(0.5)  # a redelivery taken twice would have been answered by now
    assert len(wa.messages_to(USER)) == 3


async def test_the_webhook_answers_503_while_the_database_is_away_and_meta_retries(
        platform: Platform, wa: WhatsAppEmulator, tmp_path: Path) -> None:
    database = tmp_path / "platform.db"
    await after(wa, wa.user_text(USER, "Начать"))
    raw, headers = signed(update(wa, "wamid.while-away", "/help"))
    with sqlite3.connect(database, timeout=10) as db:
        db.execute("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        async with aiohttp.ClientSession(platform.web_url) as http:
            assert (await http.post("/webhook/whatsapp", data=raw, headers=headers)).status == 503
    finally:
        with sqlite3.connect(database, timeout=10) as db:
            db.execute("ALTER TABLE inbox_away RENAME TO inbox")
    async with aiohttp.ClientSession(platform.web_url) as http:
        assert (await http.post("/webhook/whatsapp", data=raw, headers=headers)).status == 200
    (helped,) = (await wa.wait_for_messages(USER, 2))[1:2]
    assert "регистрацию" in helped.text


# the sandbox ---------------------------------------------------------------------------------------


async def test_the_sandbox_page_chats_as_a_whatsapp_user_through_the_emulator(
        tmp_path: Path, wa: WhatsAppEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("WEB_PORT", str(port))  # the platform's address, as the sandbox's emulator learns it
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    running = await started(platform_settings(tmp_path, sandbox=True, web_port=port, rate_limits=False),
                            plugins=(whatsapp.PLUGIN,))
    try:
        twin = running.sandbox.emulator("whatsapp") if running.sandbox else None
        assert isinstance(twin, WhatsAppEmulator) and twin is not wa
        assert twin.callback_url == f"http://127.0.0.1:{port}/webhook/whatsapp"  # subscribed the real way
        api = f"/sandbox/api/whatsapp/{USER}"
        async with aiohttp.ClientSession(running.web_url) as http:
            (column,) = await (await http.get("/sandbox/api/channels")).json()
            assert column == {"name": "whatsapp", "title": "WhatsApp", "user": USER, "contact": True}
            assert (await http.post(f"{api}/text", json={"text": "Начать"})).status == 200
            await twin.wait_for_messages(USER, 1)
            (shown,) = await (await http.get(f"{api}/messages")).json()
            agree = shown["buttons"][0][0]
            assert agree["payload"] == "consent:yes" and shown["html"] is False
            assert (await http.post(f"{api}/button", json=agree)).status == 200
            await twin.wait_for_messages(USER, 2)
            assert (await http.post(f"{api}/button", json={"payload": "admin:grant"})).status == 400
            assert (await http.post(f"{api}/text", json={"text": "Ольга Иванова"})).status == 200
            await twin.wait_for_messages(USER, 3)
            assert (await http.post(f"{api}/contact", json={"phone": f"+{USER}"})).status == 200
            (*_, asked_email) = await twin.wait_for_messages(USER, 4)
            assert "e-mail" in asked_email.text.lower()
    finally:
        await running.stop()
