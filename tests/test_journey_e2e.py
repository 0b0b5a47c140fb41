"""A consumer's whole journey through the real aiogram and vkbottle bots, over HTTP, against our API emulators.

Each test is one point of the tester's report (and of the hardening issue), named for the
behaviour that must hold; each asserts against what the platform used to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bots.emulators.telegram_api import BotMessage, TelegramEmulator
from bots.emulators.vk_api import VkBotMessage, VkEmulator
from core import moderation
from core.channels import ChannelName
from core.identity import ChannelAccount, Person
from core.ports import ReceiptStatus
from core.templates import Templates
from run import Platform
from tests.images import receipt_photo
from tests.platform import Launch, eventually, link_code_in, platform_settings, point_channels_at, started

TG_USER, TG_OTHER, VK_USER, VK_OTHER = 1001, 1002, 2001, 2002
PHONE, SHOWN_PHONE = "+79123456789", "+7 912 345-67-89"
VK_PHONE_TYPED, VK_SHOWN_PHONE = "8 999 000-11-22", "+7 999 000-11-22"
VK_LABEL_LIMIT = 40
PHOTO_WAIT = 30.0  # decoding a QR photo on two shared cores


def fiscal(document: int = 48213, total: str = "1249.50", sign: int = 2964503817) -> str:
    return f"t=20260315T1842&s={total}&fn=7380440700123456&i={document}&fp={sign}&n=1"


# scripted people ------------------------------------------------------------------------------


class TgUser:
    """One person in Telegram: each action returns the replies it brought (``replies`` of them)."""

    def __init__(self, api: TelegramEmulator, user_id: int) -> None:
        self.api, self.id = api, user_id

    @property
    def messages(self) -> list[BotMessage]:
        return self.api.messages_to(self.id)

    async def _after(self, action: Awaitable[int], replies: int, timeout: float) -> list[BotMessage]:
        before = self.api.outbox.count(self.id)
        await action
        return (await self.api.wait_for_messages(self.id, before + replies, timeout=timeout))[before:before + replies]

    async def says(self, text: str, replies: int = 1, timeout: float = 10.0) -> list[BotMessage]:
        return await self._after(self.api.user_text(self.id, text), replies, timeout)

    async def presses(self, data: str, replies: int = 1, timeout: float = 10.0) -> list[BotMessage]:
        return await self._after(self.api.user_press(self.id, data), replies, timeout)

    async def shares(self, phone: str, replies: int = 1) -> list[BotMessage]:
        return await self._after(self.api.user_contact(self.id, phone), replies, 10.0)

    async def sends_photo(self, data: bytes, replies: int = 1) -> list[BotMessage]:
        return await self._after(self.api.user_photo(self.id, data), replies, PHOTO_WAIT)

    async def register(self, name: str = "Анна Петрова", phone: str = PHONE) -> BotMessage:
        """/start -> consent -> name -> own contact -> skip the e-mail; the summary."""
        await self.says("/start")
        await self.presses("consent:yes")
        await self.says(name)
        await self.shares(phone)
        (done,) = await self.presses("email:skip")
        assert "вы зарегистрированы" in done.text, done.text
        return done


class VkUser:
    """One person in VK; a press sends the button's label as text with its payload, as VK does."""

    def __init__(self, api: VkEmulator, user_id: int) -> None:
        self.api, self.id = api, user_id

    @property
    def messages(self) -> list[VkBotMessage]:
        return self.api.messages_to(self.id)

    async def _after(self, action: Awaitable[int], replies: int, timeout: float) -> list[VkBotMessage]:
        before = self.api.outbox.count(self.id)
        await action
        return (await self.api.wait_for_messages(self.id, before + replies, timeout=timeout))[before:before + replies]

    async def says(self, text: str, replies: int = 1, timeout: float = 10.0) -> list[VkBotMessage]:
        return await self._after(self.api.user_text(self.id, text), replies, timeout)

    def button(self, payload: str) -> dict[str, Any]:
        """The newest button on screen that carries ``payload``."""
        for message in reversed(self.messages):
            for action in vk_buttons(message):
                if json.loads(action.get("payload") or "{}").get("p") == payload:
                    return action
        raise AssertionError(f"no button {payload!r} was shown to VK user {self.id}")

    async def presses(self, payload: str, replies: int = 1, timeout: float = 10.0) -> list[VkBotMessage]:
        action = self.button(payload)
        return await self._after(self.api.user_press(self.id, action["payload"], action["label"]), replies, timeout)

    async def sends_photo(self, data: bytes, replies: int = 1) -> list[VkBotMessage]:
        return await self._after(self.api.user_photo(self.id, data), replies, PHOTO_WAIT)

    async def register(self, name: str = "Пётр", phone: str = VK_PHONE_TYPED) -> VkBotMessage:
        await self.says("Начать")
        await self.presses("consent:yes")
        await self.says(name)
        await self.says(phone)
        (done,) = await self.presses("email:skip")
        assert "вы зарегистрированы" in done.text, done.text
        return done


def vk_buttons(message: VkBotMessage) -> list[dict[str, Any]]:
    return [button["action"] for row in (message.keyboard or {}).get("buttons", []) for button in row]


def tg_buttons(message: BotMessage) -> list[dict[str, Any]]:
    markup = message.reply_markup or {}
    return [b for row in markup.get("inline_keyboard") or markup.get("keyboard") or [] for b in row]


def texts(messages: list[Any]) -> list[str]:
    return [m.text for m in messages]


# the platform ---------------------------------------------------------------------------------





@pytest.fixture
async def platform(launch: Launch) -> Platform:
    return await launch()


@pytest.fixture
def tg(emulators: tuple[TelegramEmulator, VkEmulator]) -> TgUser:
    return TgUser(emulators[0], TG_USER)


@pytest.fixture
def vk(emulators: tuple[TelegramEmulator, VkEmulator]) -> VkUser:
    return VkUser(emulators[1], VK_USER)


async def person_of(platform: Platform, channel: str, user: int) -> Person:
    async with platform.store.transaction() as tx:
        found: tuple[ChannelAccount, Person] | None = await tx.people.find_by_account(ChannelName(channel), str(user))
    assert found is not None, f"no {channel} account {user}"
    return found[1]


# 1. a receipt sent before registering ---------------------------------------------------------


async def test_a_receipt_sent_before_registering_is_kept_and_checked_once_registration_completes(
        platform: Platform, tg: TgUser) -> None:
    kept, consent = await tg.sends_photo(receipt_photo(fiscal(48213)), replies=2)
    assert "сначала зарегистрируемся" in kept.text.lower() and "чек я сохранил" in kept.text.lower()
    assert "согласие" in consent.text  # told first, then asked
    await tg.presses("consent:yes")
    await tg.says("Анна Петрова")
    await tg.shares(PHONE)
    done, confirm = await tg.presses("email:skip", replies=2)
    assert "вы зарегистрированы" in done.text
    assert "Всё верно?" in confirm.text and "48213" in confirm.text and "1 249,50" in confirm.text
    assert sum("48213" in m.text for m in tg.messages) == 1  # not sent again: checked from what was kept


async def test_a_second_receipt_while_one_awaits_confirmation_can_be_checked_next_or_replace_it(
        platform: Platform, tg: TgUser) -> None:
    await tg.register()
    (first,) = await tg.sends_photo(receipt_photo(fiscal(48213)))
    assert "Всё верно?" in first.text and "48213" in first.text
    (question,) = await tg.sends_photo(receipt_photo(fiscal(48214, sign=1964503817)))
    assert "ещё один чек" in question.text, question.text
    assert [b["callback_data"] for b in tg_buttons(question)] == ["receipt:replace", "receipt:queue"]

    queued, again = await tg.presses("receipt:queue", replies=2)  # "check it next"
    assert "очереди: 1" in queued.text and "48213" in again.text
    accepted, next_one, second = await tg.presses("receipt:yes", replies=3)
    assert "Чек принят" in accepted.text and "1 249,50" in accepted.text
    assert "следующий чек из очереди" in next_one.text
    assert "Всё верно?" in second.text and "48214" in second.text

    (question,) = await tg.sends_photo(receipt_photo(fiscal(48215, sign=1864503817)))
    assert "ещё один чек" in question.text
    _, third = await tg.presses("receipt:replace", replies=2)  # "put it in place of the current one"
    assert "Всё верно?" in third.text and "48215" in third.text
    (accepted,) = await tg.presses("receipt:yes")
    assert "Чек принят" in accepted.text
    async with platform.store.transaction() as tx:
        stored = await tx.receipts.with_status(ReceiptStatus.MODERATION)
    documents = sorted(r.canonical.split("&i=")[1].split("&")[0] for r in stored)
    assert documents == ["48213", "48215"], [r.canonical for r in stored]  # the replaced one was dropped


# 2. refusals before "Да" ----------------------------------------------------------------------


async def test_a_duplicate_and_the_hourly_limit_are_refused_before_any_confirmation(launch: Launch,
                                                                                     tg: TgUser) -> None:
    await launch(campaign_receipts_per_hour=1)
    await tg.register()
    await tg.sends_photo(receipt_photo(fiscal(48213)))
    (accepted,) = await tg.presses("receipt:yes")
    assert "Чек принят" in accepted.text
    sent_at = datetime.now(UTC)

    (duplicate,) = await tg.sends_photo(receipt_photo(fiscal(48213)))
    assert "уже загружали" in duplicate.text, duplicate.text

    (limit,) = await tg.says(fiscal(48299, sign=1111111111))
    assert "Всё верно?" not in limit.text and "не больше 1 чеков" in limit.text, limit.text
    found = re.search(r"после (?:(\d\d)\.(\d\d) )?(\d\d):(\d\d)", limit.text)
    assert found, limit.text
    free_at = (sent_at + timedelta(hours=1, minutes=1)).astimezone(ZoneInfo("Europe/Moscow"))  # the campaign's zone
    off_by = (int(found.group(3)) * 60 + int(found.group(4)) - free_at.hour * 60 - free_at.minute) % (24 * 60)
    assert min(off_by, 24 * 60 - off_by) <= 2, (limit.text, free_at)
    assert not any("Всё верно?" in m.text for m in tg.messages[-2:])  # no question came with the refusals


# 3. VK has no contact button ------------------------------------------------------------------


async def test_vk_never_mentions_a_button_it_does_not_show(platform: Platform, vk: VkUser) -> None:
    await vk.says("Начать")
    await vk.presses("consent:yes")
    (phone_question,) = await vk.says("Пётр")
    assert "номер телефона" in phone_question.text
    assert "кнопк" not in phone_question.text.lower(), phone_question.text
    await vk.says(VK_PHONE_TYPED)
    await vk.presses("email:skip")

    await vk.says(fiscal(48213, total="2500.00"))
    (accepted,) = await vk.presses("receipt:yes")
    assert "Чек принят" in accepted.text
    async with platform.store.transaction() as tx:  # a moderator approves it (what `run.py receipts approve` does)
        (receipt,) = await tx.receipts.with_status(ReceiptStatus.MODERATION)
        await moderation.approve(tx, receipt.id, datetime.now(UTC))
    told_before = len(vk.messages)
    platform.outbox.wake()
    approved = (await vk.api.wait_for_messages(vk.id, told_before + 1))[-1]
    assert "доступен к выводу" in approved.text

    (unverified,) = await vk.says("/payout")
    assert "подтверждённый номер" in unverified.text and VK_SHOWN_PHONE in unverified.text, unverified.text
    assert "кнопк" not in unverified.text.lower(), unverified.text


# 4. VK keyboards ------------------------------------------------------------------------------


def vk_labels_as_written() -> set[str]:
    """Each declared label as VK must show it: whole (a label too long for it would show as its name here)."""
    templates = Templates.load()
    labels = set()
    for key in templates.entries:
        for row in templates.button_specs(key):
            for spec in row:
                label = spec["ru"]
                if "{" in label:
                    continue
                labels.add(label if len(label) <= VK_LABEL_LIMIT else spec.get("short_ru", f"<{key}: no short form>"))
    return labels


async def test_vk_labels_fit_whole_and_pressing_a_text_button_works(platform: Platform, vk: VkUser,
                                                                    emulators: tuple[TelegramEmulator,
                                                                                     VkEmulator]) -> None:
    (consent,) = await vk.says("Начать")
    assert [a["label"] for a in vk_buttons(consent)][-1] == "Я уже участвую"  # as Telegram says it, not cut
    (name_question,) = await vk.presses("consent:yes")  # "✅ Согласен" arrives as text with the payload
    assert "Как вас зовут" in name_question.text
    await vk.says("Пётр")
    await vk.says(VK_PHONE_TYPED)
    await vk.presses("email:skip")
    (balance,) = await vk.presses("/balance")
    assert "Ваш кешбэк" in balance.text
    (ask,) = await vk.presses("/receipt")
    assert "Пришлите фото чека" in ask.text
    await vk.says(fiscal(48213))
    (question,) = await vk.says(fiscal(48214, sign=1964503817))
    assert "ещё один чек" in question.text
    _, replacing = await vk.presses("receipt:replace", replies=2)
    assert "48214" in replacing.text
    (accepted,) = await vk.presses("receipt:yes")
    assert "Чек принят" in accepted.text
    (code,) = await vk.presses("/link")
    assert "/link " in code.text

    newcomer = VkUser(emulators[1], VK_OTHER)
    await newcomer.says("Начать")
    (ask_code,) = await newcomer.presses("/link")  # "Я уже участвую"
    assert "8-значный код" in ask_code.text

    shown = {a["label"] for m in [*vk.messages, *newcomer.messages] for a in vk_buttons(m)}
    assert all(len(label) <= VK_LABEL_LIMIT for label in shown), shown
    assert shown <= vk_labels_as_written(), shown - vk_labels_as_written()


# 5. words instead of commands -----------------------------------------------------------------


WORDS = [("помощь", "/receipt — загрузить чек"), ("баланс", "Ваш кешбэк"), ("профиль", "Ваш профиль"),
         ("help", "/receipt — загрузить чек"), ("balance", "Ваш кешбэк"), ("чек", "Пришлите фото чека"),
         ("отмена", "Хорошо, отменили")]


async def test_words_do_what_their_commands_do_in_both_messengers(platform: Platform, tg: TgUser,
                                                                   vk: VkUser) -> None:
    await tg.register()
    await vk.register()
    for word, answer in WORDS:
        (in_telegram,) = await tg.says(word)
        (in_vk,) = await vk.says(word)
        assert answer in in_telegram.text, (word, in_telegram.text)
        assert answer in in_vk.text, (word, in_vk.text)


# 6. /cancel during registration ---------------------------------------------------------------


async def test_cancel_at_the_optional_email_step_completes_the_registration(platform: Platform, tg: TgUser,
                                                                            vk: VkUser) -> None:
    await tg.says("/start")
    await tg.presses("consent:yes")
    await tg.says("Анна Петрова")
    (email_question,) = await tg.shares(PHONE)
    assert "E-mail" in email_question.text
    (done,) = await tg.says("/cancel")
    assert "вы зарегистрированы" in done.text and SHOWN_PHONE in done.text, done.text

    await vk.says("Начать")
    await vk.presses("consent:yes")
    await vk.says("Пётр")
    await vk.says(VK_PHONE_TYPED)
    (done_vk,) = await vk.says("отмена")
    assert "вы зарегистрированы" in done_vk.text, done_vk.text

    for channel, user in (("telegram", TG_USER), ("vk", VK_USER)):
        person = await person_of(platform, channel, user)
        assert person.is_registered and person.email is None and person.phone


async def test_cancel_before_the_email_step_keeps_nothing(platform: Platform, tg: TgUser) -> None:
    await tg.says("/start")
    await tg.presses("consent:yes")
    (phone_question,) = await tg.says("Анна Петрова")
    assert "номер телефона" in phone_question.text
    (cancelled,) = await tg.says("/cancel")
    assert "Регистрация прервана" in cancelled.text, cancelled.text
    register_first, consent = await tg.says("/me", replies=2)
    assert "Сначала завершите регистрацию" in register_first.text, register_first.text
    assert "согласие" in consent.text and "Анна" not in register_first.text + consent.text
    person = await person_of(platform, "telegram", TG_USER)
    assert person.name is None and person.phone is None and not person.is_registered


# 7. re-prompts --------------------------------------------------------------------------------


async def test_an_unexpected_answer_repeats_the_question_and_says_how_to_leave(platform: Platform,
                                                                               tg: TgUser, vk: VkUser) -> None:
    await tg.says("/start")
    not_that, question = await tg.says("как дела?", replies=2)
    assert "/cancel" in not_that.text and "Сейчас я жду другое" not in not_that.text, not_that.text
    assert "согласие" in question.text  # what is awaited
    await tg.presses("consent:yes")
    await tg.says("Анна Петрова")
    await tg.shares(PHONE)
    await tg.presses("email:skip")
    await tg.says(fiscal(48213))
    not_that, question = await tg.says("как дела?", replies=2)
    assert "/cancel" in not_that.text and "Всё верно?" in question.text

    await vk.says("Начать")
    not_that_vk, question_vk = await vk.says("что это?", replies=2)
    assert "/cancel" in not_that_vk.text and "Сейчас я жду другое" not in not_that_vk.text
    assert "согласие" in question_vk.text


# 8. old buttons -------------------------------------------------------------------------------


async def test_an_old_button_says_it_is_no_longer_current_and_shows_where_we_are(platform: Platform,
                                                                                 tg: TgUser) -> None:
    await tg.says("/start")
    await tg.presses("consent:yes")
    await tg.says("Анна Петрова")
    stale, phone_question = await tg.presses("consent:yes", replies=2)  # the consent button, pressed again
    assert "уже не действует" in stale.text, stale.text
    assert "номер телефона" in phone_question.text
    await tg.shares(PHONE)
    await tg.presses("email:skip")
    stale, menu = await tg.presses("consent:yes", replies=2)  # after registering
    assert "уже не действует" in stale.text, stale.text
    assert "Что дальше?" in menu.text and any(b["callback_data"] == "/balance" for b in tg_buttons(menu))


# 9. merging by a verified phone ---------------------------------------------------------------


async def test_a_merge_by_a_shared_verified_phone_is_told_to_both_accounts(
        platform: Platform, tg: TgUser, emulators: tuple[TelegramEmulator, VkEmulator]) -> None:
    await tg.register()
    other = TgUser(emulators[0], TG_OTHER)
    await other.says("/start")
    await other.presses("consent:yes")
    await other.says("Аня")
    (question,) = await other.shares(PHONE)
    assert SHOWN_PHONE in question.text and "Объединить" in question.text, question.text
    told_before = len(tg.messages)
    (merged,) = await other.presses("merge:yes")
    assert "Профили объединены" in merged.text and "Анна Петрова" in merged.text
    told = (await tg.api.wait_for_messages(tg.id, told_before + 1))[-1]
    assert "подключён аккаунт Telegram" in told.text, told.text
    assert (await person_of(platform, "telegram", TG_USER)).id == (await person_of(platform, "telegram",
                                                                                   TG_OTHER)).id


# 10. the name Telegram gives ------------------------------------------------------------------


async def test_telegram_offers_the_given_name_as_a_one_press_answer(platform: Platform, tg: TgUser) -> None:
    tg.api.set_user(tg.id, "Анна")
    await tg.says("/start")
    (name_question,) = await tg.presses("consent:yes")
    assert [(b["text"], b["callback_data"]) for b in tg_buttons(name_question)] == [("Анна", "name:given")]
    (phone_question,) = await tg.presses("name:given")
    assert "номер телефона" in phone_question.text
    await tg.shares(PHONE)
    (done,) = await tg.presses("email:skip")
    assert "<b>Анна</b>" in done.text
    assert (await person_of(platform, "telegram", TG_USER)).name == "Анна"


# 11. balance and phones -----------------------------------------------------------------------


async def test_a_zero_balance_offers_no_payout_and_phones_are_shown_formatted(platform: Platform, tg: TgUser,
                                                                              vk: VkUser) -> None:
    done = await tg.register()
    assert f"Телефон: {SHOWN_PHONE}" in done.text, done.text
    (balance,) = await tg.says("/balance")
    assert "Доступно к выводу: 0,00 ₽" in balance.text or "Доступно к выводу: 0 ₽" in balance.text, balance.text
    labels = [b["text"] for b in tg_buttons(balance)]
    assert "Вывести" not in labels and all(b["callback_data"] != "/payout" for b in tg_buttons(balance)), labels
    (profile,) = await tg.says("/me")
    assert f"Телефон: {SHOWN_PHONE}" in profile.text, profile.text

    done_vk = await vk.register()
    assert f"Телефон: {VK_SHOWN_PHONE}" in done_vk.text
    (balance_vk,) = await vk.says("/balance")
    assert all(a["label"] != "Вывести" for a in vk_buttons(balance_vk))
    (profile_vk,) = await vk.says("/me")
    assert f"Телефон: {VK_SHOWN_PHONE}" in profile_vk.text


# 12. the rules link ---------------------------------------------------------------------------


async def test_the_rules_link_points_at_the_running_web_app(platform: Platform, tg: TgUser) -> None:
    (consent,) = await tg.says("/start")
    assert f'<a href="{platform.web_url}/rules">' in consent.text, (platform.web_url, consent.text)
    assert not platform.web_url.endswith(":0")
    rules = next(b for b in tg_buttons(consent) if b.get("url"))
    assert rules["url"] == f"{platform.web_url}/rules"
    async with aiohttp.ClientSession() as http, http.get(rules["url"]) as answer:
        assert answer.status == 200 and "Правила акции" in await answer.text()


async def test_the_rules_link_uses_the_public_url_when_set(launch: Launch, tg: TgUser) -> None:
    await launch(public_url="https://promo.example.org/")
    (consent,) = await tg.says("/start")
    assert '<a href="https://promo.example.org/rules">' in consent.text, consent.text


# 13. a sandbox restarted on the same database ---------------------------------------------------


async def test_a_restarted_sandbox_answers_the_first_telegram_message(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    point_channels_at(monkeypatch, None, None)
    settings = platform_settings(tmp_path, sandbox=True)
    first = await started(settings)
    try:
        assert first.sandbox is not None
        await first.sandbox.emulator("telegram").user_text(TG_USER, "/start")
        await first.sandbox.emulator("telegram").wait_for_messages(TG_USER, 1)
    finally:
        await first.stop()
    second = await started(settings)
    try:
        assert second.sandbox is not None
        await second.sandbox.emulator("telegram").user_text(TG_USER, "/start")
        (answer,) = await second.sandbox.emulator("telegram").wait_for_messages(TG_USER, 1)
        assert "согласие" in answer.text
    finally:
        await second.stop()


async def test_a_restarted_sandbox_answers_the_first_vk_message(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    point_channels_at(monkeypatch, None, None)
    settings = platform_settings(tmp_path, sandbox=True)

    async def first_message_answered() -> str:
        platform = await started(settings)
        try:
            assert platform.sandbox is not None
            await platform.sandbox.emulator("vk").polling.wait()
            await platform.sandbox.emulator("vk").user_text(VK_USER, "/start")
            (answer,) = await platform.sandbox.emulator("vk").wait_for_messages(VK_USER, 1)
            return answer.text
        finally:
            await platform.stop()

    assert "согласие" in await first_message_answered()
    assert "согласие" in await first_message_answered()  # after the restart, on the same database


# 14. health -----------------------------------------------------------------------------------


async def test_health_endpoints_answer_ok(platform: Platform) -> None:
    async with aiohttp.ClientSession(platform.web_url) as http:
        for path in ("/health", "/healthz"):
            async with http.get(path) as answer:
                assert answer.status == 200, path
                assert await answer.json() == {"status": "ok"}


# 15-19. the hardening issue -------------------------------------------------------------------


async def test_a_very_long_unknown_command_gets_a_reply_that_telegram_accepts(platform: Platform,
                                                                             tg: TgUser) -> None:
    command = "/" + "x" * 4080
    assert len(command) == 4081
    (reply,) = await tg.says(command)
    assert len(reply.text) <= 4096
    assert reply.text.startswith("Я не знаю команду /xxxxxxxx") and reply.text.endswith("/help"), reply.text[-80:]
    assert command not in reply.text  # quoted only in part


async def test_replies_after_a_429_do_not_overtake_the_postponed_one(platform: Platform, tg: TgUser) -> None:
    tg.api.throttle(tg.id, sends=1, retry_after=1)
    await tg.api.user_text(tg.id, "/start")

    def refused() -> bool:
        return any(method.lower() == "sendmessage" for _, method, _ in tg.api.calls)

    await eventually(refused)  # the consent question got a 429 and waits for its retry_after
    await tg.api.user_text(tg.id, "/help")
    consent, help_text, consent_again = await tg.api.wait_for_messages(tg.id, 3, timeout=15)
    assert "согласие" in consent.text, texts([consent, help_text, consent_again])
    assert "регистрацию" in help_text.text and "согласие" in consent_again.text


async def test_a_till_receipt_qr_with_one_bad_field_is_answered_naming_the_field(platform: Platform,
                                                                                 tg: TgUser) -> None:
    await tg.register()
    bad_sum = "t=20260315T1842&s=12,49.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
    refusal, _ask = await tg.sends_photo(receipt_photo(bad_sum), replies=2)
    assert "неверное поле" in refusal.text and re.search("«(sum|сумма)»", refusal.text), refusal.text
    assert "не с кассового чека" not in refusal.text


async def test_a_typed_unverified_phone_does_not_block_its_owner_who_shares_it(
        platform: Platform, tg: TgUser, vk: VkUser) -> None:
    await vk.register(phone=PHONE)  # typed in VK: a mere claim
    told_before = len(vk.messages)
    done = await tg.register(phone=PHONE)  # the owner shares it as a verified contact
    assert SHOWN_PHONE in done.text
    dropped = (await vk.api.wait_for_messages(vk.id, told_before + 1))[-1]
    assert SHOWN_PHONE in dropped.text and "удалён" in dropped.text, dropped.text
    owner, squatter = await person_of(platform, "telegram", TG_USER), await person_of(platform, "vk", VK_USER)
    assert owner.phone == PHONE and owner.phone_verified and owner.id != squatter.id
    assert squatter.phone is None


async def test_a_link_code_joins_nothing_and_shows_nothing_until_its_owner_says_yes(
        platform: Platform, tg: TgUser, vk: VkUser, emulators: tuple[TelegramEmulator, VkEmulator]) -> None:
    await tg.register(name="Анна Петрова")
    (issued,) = await tg.says("/link")
    asked_before = len(tg.messages)
    (waiting,) = await vk.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    assert "VK" in asked.text and "Анна" not in waiting.text and "Петрова" not in waiting.text
    register_first, _consent = await vk.says("/me", replies=2)  # nothing of the owner's is shown
    assert "Сначала завершите регистрацию" in register_first.text and "Анна" not in register_first.text
    owner, newcomer = await person_of(platform, "telegram", TG_USER), await person_of(platform, "vk", VK_USER)
    assert owner.id != newcomer.id

    refused_before = len(vk.messages)
    (refused_here,) = await tg.presses(tg_buttons(asked)[1]["callback_data"])  # "Нет"
    assert "не подключён" in refused_here.text
    refused = (await vk.api.wait_for_messages(vk.id, refused_before + 1))[-1]
    assert "отклонено" in refused.text and "Анна" not in refused.text
    assert (await person_of(platform, "vk", VK_USER)).id != owner.id

    (issued,) = await tg.says("/link")
    other = VkUser(emulators[1], VK_OTHER)
    asked_before = len(tg.messages)
    await other.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    await tg.presses(tg_buttons(asked)[0]["callback_data"])  # "Да, это я"
    done = (await other.api.wait_for_messages(other.id, 2))[-1]
    assert "Анна Петрова" in done.text
    assert (await person_of(platform, "vk", VK_OTHER)).id == owner.id
    assert (await person_of(platform, "vk", VK_USER)).id != owner.id  # the refused one stays apart
