"""VK on a par with Telegram (issue 17, section 3), through the real aiogram, vkbottle and MAX bots over HTTP.

VK's messages carry no name: it is asked for with ``users.get`` (once, and a failed lookup loses nothing),
so VK people get the name as a one-press answer and the link handshake names them; MAX updates carry it.
A receipt sent as a file is read in VK as in Telegram, and nobody in VK is told they may send a contact.
The consent buttons read the same everywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from vkbottle import API

from bots import max as max_channel
from bots.emulators.max_api import MaxEmulator
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.vk_names import VkNames
from run import Platform
from tests.images import receipt_photo
from tests.platform import link_code_in, platform_settings, point_channels_at, started
from tests.test_journey_e2e import PHOTO_WAIT, TG_USER, VK_USER, TgUser, VkUser, fiscal, tg_buttons, vk_buttons

VK_PHONE = "8 999 000-11-22"


@pytest.fixture
async def platform(tmp_path: Path, emulators: tuple[TelegramEmulator, VkEmulator]) -> AsyncIterator[Platform]:
    running = await started(platform_settings(tmp_path), emulators[1])
    yield running
    await running.stop()


@pytest.fixture
def tg(emulators: tuple[TelegramEmulator, VkEmulator]) -> TgUser:
    return TgUser(emulators[0], TG_USER)


@pytest.fixture
def vk(emulators: tuple[TelegramEmulator, VkEmulator]) -> VkUser:
    return VkUser(emulators[1], VK_USER)


def users_get_calls(api: VkEmulator, user: int) -> int:
    return sum(1 for _, method, params in api.calls
               if method == "users.get" and str(user) in str(params.get("user_ids", "")).split(","))


async def account_name(platform: Platform, channel: str, user: int) -> str:
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(channel, str(user))  # type: ignore[arg-type]
    assert found is not None
    return found[0].display_name


# 9. the name VK and MAX know ----------------------------------------------------------------------


async def test_vk_offers_the_name_vk_knows_as_a_one_press_answer_looked_up_once(platform: Platform,
                                                                                vk: VkUser) -> None:
    vk.api.set_user(VK_USER, "Пётр", "Иванов")
    await vk.says("Начать")
    (name_question,) = await vk.presses("consent:yes")
    assert [(a["label"], json.loads(a["payload"])) for a in vk_buttons(name_question)] == [
        ("Пётр Иванов", {"p": "name:given"})]
    (phone_question,) = await vk.presses("name:given")
    assert "номер телефона" in phone_question.text
    await vk.says(VK_PHONE)
    (done,) = await vk.presses("email:skip")
    assert "Пётр Иванов, вы зарегистрированы" in done.text, done.text
    assert users_get_calls(vk.api, VK_USER) == 1  # five messages, one lookup


async def test_the_owner_is_asked_about_the_vk_account_by_its_name(platform: Platform, tg: TgUser,
                                                                   vk: VkUser) -> None:
    vk.api.set_user(VK_USER, "Пётр", "Иванов")
    await tg.register(name="Анна Петрова")
    (issued,) = await tg.says("/link")
    asked_before = len(tg.messages)
    await vk.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    assert "аккаунт VK «Пётр Иванов»" in asked.text and "«—»" not in asked.text, asked.text


async def test_a_failed_name_lookup_still_answers_and_is_tried_again(platform: Platform, vk: VkUser) -> None:
    vk.api.set_user(VK_USER, "Пётр", "Иванов")
    vk.api.users_get_error = 10  # VK's "internal server error"
    (consent,) = await vk.says("Начать")
    assert "согласие" in consent.text
    (name_question,) = await vk.presses("consent:yes")
    assert "Как вас зовут" in name_question.text and not vk_buttons(name_question)  # no name to offer
    assert await account_name(platform, "vk", VK_USER) == ""
    vk.api.users_get_error = None
    await vk.says("Пётр")
    assert await account_name(platform, "vk", VK_USER) == "Пётр Иванов"  # not remembered as nameless


async def test_names_asked_for_together_go_as_one_users_get_and_are_kept() -> None:
    emulator = VkEmulator()
    await emulator.start()
    api = API("vk-test-token")
    api.API_URL = emulator.api_url
    names = VkNames(api)
    try:
        emulator.set_user(2101, "Анна", "Петрова")
        emulator.set_user(2102, "Пётр", "")
        found = await asyncio.gather(*(names.of(user) for user in (2101, 2102, 2103)))
        assert found == ["Анна Петрова", "Пётр", "User2103"]
        assert [params["user_ids"] for _, method, params in emulator.calls if method == "users.get"] == [
            "2101,2102,2103"]
        assert await names.of(2101) == "Анна Петрова"  # kept: VK is not asked again
        assert sum(1 for _, method, _ in emulator.calls if method == "users.get") == 1
    finally:
        await names.close()
        await api.http_client.close()
        await emulator.stop()


async def test_max_offers_the_name_its_updates_carry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    emulator = MaxEmulator()
    await emulator.start()
    point_channels_at(monkeypatch, None, None, MAX_BOT_TOKEN=emulator.token, MAX_API_BASE=emulator.base_url,
                      MAX_WEBHOOK_SECRET=None, MAX_PUBLIC_URL=None, PUBLIC_URL=None)
    running = await started(platform_settings(tmp_path), plugins=(max_channel.PLUGIN,))
    user = 3001
    try:
        emulator.set_user(user, "Мария", "Петрова")
        await emulator.user_text(user, "Начать")
        await emulator.wait_for_messages(user, 1)
        await emulator.user_press(user, "consent:yes")
        (_, name_question) = await emulator.wait_for_messages(user, 2)
        assert [(b["text"], b["payload"]) for row in name_question.buttons for b in row] == [
            ("Мария Петрова", "name:given")]
    finally:
        await running.stop()
        await emulator.stop()


# 10. a receipt sent as a file -------------------------------------------------------------------------


async def test_a_receipt_sent_as_a_file_is_read_in_vk_as_in_telegram(platform: Platform, tg: TgUser,
                                                                     vk: VkUser) -> None:
    await vk.register()
    picture = receipt_photo(fiscal(48213))
    before = vk.api.outbox.count(vk.id)
    await vk.api.user_document(vk.id, picture, "чек.jpg")
    (confirm,) = (await vk.api.wait_for_messages(vk.id, before + 1, timeout=PHOTO_WAIT))[before:]
    assert "Проверьте данные чека" in confirm.text and "48213" in confirm.text, confirm.text

    await tg.register()
    before = tg.api.outbox.count(tg.id)
    await tg.api.user_document(tg.id, picture, "чек.jpg", "image/jpeg")
    (confirm_tg,) = (await tg.api.wait_for_messages(tg.id, before + 1, timeout=PHOTO_WAIT))[before:]
    assert "Проверьте данные чека" in confirm_tg.text and "48213" in confirm_tg.text  # as in VK


async def test_vk_never_offers_a_contact_it_cannot_send(platform: Platform, vk: VkUser) -> None:
    await vk.says("Начать")
    before = vk.api.outbox.count(vk.id)
    await vk.api.user_document(vk.id, b"%PDF-1.4 not a picture", "договор.pdf")
    unsupported, *_ = (await vk.api.wait_for_messages(vk.id, before + 1))[before:]
    assert "прочитать не могу" in unsupported.text and "контакт" not in unsupported.text, unsupported.text


# 11. the consent buttons ----------------------------------------------------------------------------


async def test_the_consent_buttons_read_the_same_in_telegram_and_vk(platform: Platform, tg: TgUser,
                                                                   vk: VkUser) -> None:
    (in_telegram,) = await tg.says("/start")
    (in_vk,) = await vk.says("Начать")
    telegram_labels = [b["text"] for b in tg_buttons(in_telegram)]
    assert telegram_labels == [a["label"] for a in vk_buttons(in_vk)]
    assert "Я уже участвую" in telegram_labels
