"""Issue 17, sections 1 and 2 — money and promises, buttons that did nothing or lied — through the real aiogram and
vkbottle bots over HTTP against our emulators (and ``run.py``'s payout commands as a manager runs them).

Erasure settles a requested payout first and tells every account; a paid payout is told and stays in /balance;
/payout names money still being checked; a campaign that draws nothing promises no chances and has a title;
Telegram's contact request no longer swallows the other buttons; with SMS off, each messenger says what works;
an old support button starts nothing and /cancel closes the ticket it says it cancels; nothing that does not
run is offered.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bots.emulators.sms_gateway import API_KEY, SmsGateway
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core import moderation
from core.payouts import mark_paid
from core.ports import ReceiptStatus
from core.ports.ledger import PayoutStatus
from core.ports.personal_data import ErasureSubject
from core.ports.tickets import TicketStatus
from core.settings import Settings
from promo import ledger
from promo.ledger import LedgerAccount
from run import Platform
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from tests.platform import Launch, link_code_in
from tests.test_journey_e2e import (
    PHONE,
    SHOWN_PHONE,
    TG_USER,
    VK_USER,
    TgUser,
    VkUser,
    fiscal,
    person_of,
    tg_buttons,
    vk_buttons,
)

ROOT = Path(__file__).parents[1]
CASHBACK = "125,00"  # 5% of a 2 500,00 ₽ receipt



@pytest.fixture
async def platform(launch: Launch) -> Platform:
    return await launch()


@pytest.fixture
def tg(emulators: tuple[TelegramEmulator, VkEmulator]) -> TgUser:
    return TgUser(emulators[0], TG_USER)


@pytest.fixture
def vk(emulators: tuple[TelegramEmulator, VkEmulator]) -> VkUser:
    return VkUser(emulators[1], VK_USER)


@pytest.fixture
async def sms_gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SmsGateway]:
    """SMS runs: the platform's SMS channel is pointed at the gateway emulator."""
    gateway = SmsGateway()
    await gateway.start()
    for name, value in {"SMS_API_KEY": API_KEY, "SMS_API_BASE": gateway.base_url, "SMS_PROVIDER": "smsru"}.items():
        monkeypatch.setenv(name, value)
    yield gateway
    await gateway.stop()


async def earn(platform: Platform, user: TgUser | VkUser, document: int = 48213) -> None:
    """A receipt of 2 500,00 ₽ a moderator approves (what ``run.py receipts approve`` does): 125,00 ₽ to take."""
    (question,) = await user.says(fiscal(document, total="2500.00"))
    assert "Всё верно?" in question.text, question.text
    (accepted,) = await user.presses("receipt:yes")
    assert "Чек принят" in accepted.text
    async with platform.store.transaction() as tx:
        for receipt in await tx.receipts.with_status(ReceiptStatus.MODERATION):
            await moderation.approve(tx, receipt.id, datetime.now(UTC))
    told_before = len(user.messages)
    platform.outbox.wake()
    approved = (await user.api.wait_for_messages(user.id, told_before + 1))[-1]
    assert "доступен к выводу" in approved.text


async def register_typing_the_phone(tg: TgUser) -> None:
    """Registration in Telegram with the number typed, not shared: it is not verified."""
    await tg.says("/start")
    await tg.presses("consent:yes")
    await tg.says("Анна Петрова")
    await tg.says(PHONE)
    (done,) = await tg.presses("email:skip")
    assert "вы зарегистрированы" in done.text


def vk_payloads(message: Any) -> list[str]:
    return [json.loads(action.get("payload") or "{}").get("p", "") for action in vk_buttons(message)]


# 1. /forget with a payout requested ----------------------------------------------------------------------


async def test_forget_settles_a_requested_payout_first_says_what_happens_to_the_money_and_tells_every_account(
        platform: Platform, tg: TgUser, vk: VkUser) -> None:
    await tg.register()
    await earn(platform, tg)
    await tg.says("/payout")
    (requested,) = await tg.presses("payout:yes")
    assert f"{CASHBACK} ₽" in requested.text
    (issued,) = await tg.says("/link")  # the same person in VK too
    asked_before = len(tg.messages)
    await vk.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    linked_before = len(vk.messages)
    await tg.presses(tg_buttons(asked)[0]["callback_data"])
    await vk.api.wait_for_messages(vk.id, linked_before + 1)
    person = await person_of(platform, "telegram", TG_USER)
    assert (await person_of(platform, "vk", VK_USER)).id == person.id

    (first,) = await tg.says("/forget")  # the phone the payout goes to would be erased: the payout comes first
    assert f"заказана выплата {CASHBACK} ₽ на номер {SHOWN_PHONE}" in first.text, first.text
    assert "удалить данные сейчас нельзя" in first.text
    assert [b["callback_data"] for b in tg_buttons(first)] == ["forget:wait", "forget:cancel_payout"]
    cancelled, question = await tg.presses("forget:cancel_payout", replies=2)
    assert f"Выплата {CASHBACK} ₽ отменена" in cancelled.text, cancelled.text
    assert f"{CASHBACK} ₽ к выводу" in question.text and "получить эти деньги будет нельзя" in question.text
    assert "/payout" in [b["callback_data"] for b in tg_buttons(question)]  # "withdraw first" is offered

    told_before = len(vk.messages)
    (done,) = await tg.presses("forget:yes")
    assert "данные удалены" in done.text
    told = (await vk.api.wait_for_messages(vk.id, told_before + 1))[-1]  # the other account is not left guessing
    assert "удалены по запросу из Telegram" in told.text, told.text
    async with platform.store.transaction() as tx:
        erased = await tx.people.get(person.id)
        [payout] = await tx.ledger.payouts(person_id=person.id)
        balances = await tx.ledger.balances(person.id)
        total = await tx.ledger.total()
    assert (erased.name, erased.phone) == (None, None)
    assert payout.status is PayoutStatus.CANCELLED
    assert balances[LedgerAccount.AVAILABLE] == 12_500 and balances[LedgerAccount.REQUESTED] == 0 and total == 0
    assert not await mark_paid(platform.store, payout.id, datetime.now(UTC))  # nothing left to pay to a blank phone


# 3. a paid payout is told, and stays in /balance ---------------------------------------------------------


async def test_a_paid_payout_is_told_and_the_balance_shows_it_paid(platform: Platform, tg: TgUser) -> None:
    await tg.register()
    await earn(platform, tg)
    await tg.says("/payout")
    await tg.presses("payout:yes")
    async with platform.store.transaction() as tx:
        [payout] = await tx.ledger.payouts(PayoutStatus.REQUESTED)
    told_before = len(tg.messages)
    assert await mark_paid(platform.store, payout.id, datetime.now(UTC))  # what `run.py payout-paid` does
    platform.outbox.wake()
    paid = (await tg.api.wait_for_messages(tg.id, told_before + 1))[-1]
    assert f"Выплата {CASHBACK} ₽ на номер {SHOWN_PHONE} отправлена" in paid.text, paid.text
    (balance,) = await tg.says("/balance")  # the money does not just vanish from it
    assert f"Выплачено: {CASHBACK} ₽" in balance.text and "Заказано к выплате: 0,00 ₽" in balance.text, balance.text


async def test_erasure_can_wait_for_a_requested_payout_and_goes_ahead_once_it_is_paid(platform: Platform,
                                                                                     tg: TgUser) -> None:
    await tg.register()
    await earn(platform, tg)
    await tg.says("/payout")
    await tg.presses("payout:yes")
    await tg.says("/forget")
    (waiting,) = await tg.presses("forget:wait")
    assert "ничего не удаляем" in waiting.text and "/forget" in waiting.text
    assert (await person_of(platform, "telegram", TG_USER)).phone == PHONE  # kept: the money goes there
    async with platform.store.transaction() as tx:
        [payout] = await tx.ledger.payouts(PayoutStatus.REQUESTED)
    told_before = len(tg.messages)
    assert await mark_paid(platform.store, payout.id, datetime.now(UTC))
    platform.outbox.wake()
    await tg.api.wait_for_messages(tg.id, told_before + 1)  # "sent", as promised
    (question,) = await tg.says("/forget")  # nothing is owed now: no money to warn about
    assert "₽" not in question.text and "Удалить ваши персональные данные?" in question.text
    (done,) = await tg.presses("forget:yes")
    assert "данные удалены" in done.text


def cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=database.parent, env=environment,
                          capture_output=True, text=True, timeout=120)


async def test_payout_paid_tells_the_person_and_refuses_a_payout_whose_phone_was_erased(tmp_path: Path) -> None:
    database = tmp_path / "promo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    try:
        async with store.transaction() as tx:
            people = []
            for phone in ("+79123456789", "+79990001122"):
                person = await tx.people.create("ru", now)
                await tx.people.save(replace(person, name="Анна", phone=phone, phone_verified=True,
                                             registered_at=now))
                await tx.people.add_account(person.id, "telegram", phone[-4:], "", now)
                await tx.ledger.post(ledger.accrual(person.id, 15_000), now)
                await tx.ledger.post(ledger.approval(person.id, 15_000), now)
                payout = await tx.ledger.add_payout(person.id, 15_000, phone, now)
                await tx.ledger.post(ledger.payout_request(person.id, 15_000, 15_000), now, payout_id=payout.id)
                people.append((person.id, payout.id))
        (paid_person, paid), (erased_person, stranded) = people
        async with store.transaction() as tx:  # erased as it was before erasure waited for payouts
            subject = ErasureSubject(erased_person, (("telegram", "1122"),), ("+79990001122",))
            for repository in tx.personal_data():
                await repository.erase_personal(subject, now)
    finally:
        await store.close()

    done = cli(database, "payout-paid", str(paid))
    assert done.returncode == 0 and f"payout {paid} marked paid" in done.stdout, done.stderr
    refused = cli(database, "payout-paid", str(stranded))
    assert refused.returncode == 1 and "erased" in refused.stderr and f"payout-cancel {stranded}" in refused.stderr
    taken_back = cli(database, "payout-cancel", str(stranded))
    assert taken_back.returncode == 0 and f"payout {stranded} cancelled" in taken_back.stdout, taken_back.stderr
    assert cli(database, "payout-cancel", str(stranded)).returncode == 1  # settled once

    store = SqlStore(engine)
    try:
        async with store.transaction() as tx:
            [told] = await tx.messages.entries(paid_person, template="payout.paid")
            assert told.params["amount"] == "150,00" and told.params["paid"] == "150,00"
            assert (await tx.ledger.balances(erased_person))[LedgerAccount.AVAILABLE] == 15_000
            assert await tx.ledger.balances(paid_person) == {LedgerAccount.PENDING: 0, LedgerAccount.AVAILABLE: 0,
                                                             LedgerAccount.REQUESTED: 0}
            assert await tx.ledger.total() == 0
    finally:
        await store.close()
        await engine.dispose()


# 4. /payout names money still being checked --------------------------------------------------------------


async def test_payout_with_money_still_being_checked_names_it(platform: Platform, tg: TgUser) -> None:
    await tg.register()
    await tg.says(fiscal(48213, total="2500.00"))
    await tg.presses("receipt:yes")  # waits for a moderator
    (too_little,) = await tg.says("/payout")
    assert "доступно 0,00 ₽" in too_little.text and f"Ещё {CASHBACK} ₽ на проверке" in too_little.text, \
        too_little.text


# 2. a campaign with no draw -------------------------------------------------------------------------------


async def test_the_seeded_campaign_has_a_title_and_promises_no_chances_it_has_no_draw_for(launch: Launch,
                                                                                          tg: TgUser) -> None:
    assert Settings(_env_file=None).campaign.name != Settings(_env_file=None).campaign_code  # a title by default
    await launch(campaign_title="Кешбэк за молоко")
    await tg.register()
    (question,) = await tg.says(fiscal(48213, total="2500.00"))
    assert f"кешбэк {CASHBACK} ₽" in question.text, question.text
    await tg.presses("receipt:yes")
    (draws,) = await tg.says("/draws")
    assert "«Кешбэк за молоко»" in draws.text and "нет розыгрыша" in draws.text, draws.text
    assert "Обязательство" not in draws.text and "SHA-256" not in draws.text and "promo" not in draws.text
    said = [m.text.lower() for m in tg.messages]
    assert not any("шанс" in text for text in said), [t for t in said if "шанс" in t]


# 5. Telegram: a contact request among other buttons ------------------------------------------------------


async def test_telegram_asks_for_the_contact_apart_so_the_other_buttons_still_work(
        launch: Launch, tg: TgUser, sms_gateway: SmsGateway) -> None:
    platform = await launch()
    await register_typing_the_phone(tg)
    await earn(platform, tg)
    text, request = await tg.says("/payout", replies=2)
    assert "подтверждённый номер" in text.text, text.text
    assert [(b["text"], b["callback_data"]) for b in tg_buttons(text)] == [("Код по SMS", "/phone")]  # inline
    assert [[b.get("request_contact") for b in row] for row in request.reply_markup["keyboard"]] == [[True]]
    assert request.text == "📱 Подтвердить номер"
    for message in tg.messages:  # no reply keyboard holds a button that would only send its label
        assert all(b.get("request_contact") for row in (message.reply_markup or {}).get("keyboard", []) for b in row)

    (code_sent,) = await tg.presses("/phone")
    assert "Отправили SMS с кодом" in code_sent.text, code_sent.text
    [sms] = sms_gateway.to(PHONE)
    code = re.search(r"\d{6}", sms.text)
    assert code, sms.text
    (verified,) = await tg.says(code.group(0))
    assert "подтверждён" in verified.text
    (confirm,) = await tg.says("/payout")
    assert f"Вывести {CASHBACK} ₽" in confirm.text


# 6. SMS off: what works, said plainly ---------------------------------------------------------------------


async def test_without_sms_each_messenger_says_plainly_how_the_number_can_be_verified(platform: Platform,
                                                                                      tg: TgUser,
                                                                                      vk: VkUser) -> None:
    await vk.register()
    await earn(platform, vk)
    (payout,) = await vk.says("/payout")
    assert "коды по SMS в этой акции не отправляются" in payout.text and "Telegram" in payout.text, payout.text
    assert "кнопк" not in payout.text.lower() and "Код по SMS" not in payout.text
    assert "/phone" not in vk_payloads(payout) and "/link" in vk_payloads(payout)
    (no_sms,) = await vk.says("/phone")
    assert "Telegram" in no_sms.text and "/link" in no_sms.text, no_sms.text
    assert "Отправить" not in no_sms.text and "позже" not in no_sms.text
    (no_email,) = await vk.says("/email")
    assert "не отправляются" in no_email.text and "позже" not in no_email.text, no_email.text

    await register_typing_the_phone(tg)
    (share,) = await tg.says("/phone")  # Telegram itself proves the number: no "confirm it in Telegram"
    assert "кнопкой ниже" in share.text and "Telegram" not in share.text, share.text
    assert [b.get("request_contact") for b in tg_buttons(share)] == [True]
    (verified,) = await tg.shares(PHONE)
    assert "подтверждён" in verified.text


async def test_a_vk_only_person_is_told_plainly_when_nothing_can_verify_a_number(
        launch: Launch, vk: VkUser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")  # VK alone: no SMS, no messenger with a contact button
    platform = await launch()
    await vk.register()
    await earn(platform, vk)
    (payout,) = await vk.says("/payout")
    assert "вывести кешбэк пока не получится" in payout.text and "/support" in payout.text, payout.text
    assert "Telegram" not in payout.text and "/link" not in vk_payloads(payout)


# 7-8. support buttons and /cancel; nothing offered that does not run --------------------------------------


async def test_an_old_support_button_starts_nothing_and_cancel_closes_the_ticket_it_says_it_cancels(
        platform: Platform, tg: TgUser) -> None:
    await tg.register()
    await tg.says("/support")
    await tg.says("Не пришёл кешбэк")
    (opened,) = await tg.presses("support:skip")
    assert "открыто" in opened.text
    assert [b["callback_data"] for b in tg_buttons(opened)] == ["support:close"]  # no web chat: it does not run
    await tg.presses("support:close")
    await tg.presses("support:norate")
    (old,) = await tg.presses("support:close")  # «✅ Вопрос решён» of the closed ticket, pressed again
    assert "уже закрыто" in old.text, old.text
    (menu,) = await tg.says("И ещё вопрос")  # not taken as a new ticket's description
    assert "Что дальше?" in menu.text, menu.text
    person = await person_of(platform, "telegram", TG_USER)
    async with platform.store.transaction() as tx:
        assert len(await tx.tickets.of_person(person.id)) == 1

    await tg.says("/support")
    await tg.says("Второй вопрос")
    (cancelled,) = await tg.says("/cancel")
    assert "закрыто" in cancelled.text and "отменили" not in cancelled.text, cancelled.text
    (again,) = await tg.says("/support")  # no open ticket is reported: a new one is described
    assert "Опишите" in again.text, again.text
    async with platform.store.transaction() as tx:
        tickets = await tx.tickets.of_person(person.id)
    assert [t.status for t in tickets] == [TicketStatus.CLOSED, TicketStatus.CLOSED]


async def test_the_web_chat_button_shows_where_the_web_chat_runs(launch: Launch, tg: TgUser,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBCHAT_ENABLED", "true")
    await launch()
    await tg.register()
    await tg.says("/support")
    await tg.says("Не пришёл кешбэк")
    (opened,) = await tg.presses("support:skip")
    assert [b["callback_data"] for b in tg_buttons(opened)] == ["support:close", "/chat"]
    (link,) = await tg.presses("/chat")
    assert "/chat?t=" in link.text, link.text
