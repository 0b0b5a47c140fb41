"""Issue 25 §2.4: the owner's "link this account?" names the account even when its name is unknown.

VK's updates carry no name and ``users.get`` may fail; the question then read «аккаунт VK «—»», which the
owner cannot tell from an intruder's. It names the account as the owner can look it up: the channel and its id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.templates import Templates
from run import Platform
from tests.chat import Chat
from tests.conftest import CHANNELS
from tests.platform import link_code_in, platform_settings, started
from tests.test_journey_e2e import TG_USER, VK_USER, TgUser, VkUser


@pytest.fixture
async def platform(tmp_path: Path, emulators: tuple[TelegramEmulator, VkEmulator]) -> AsyncIterator[Platform]:
    running = await started(platform_settings(tmp_path), emulators[1])
    yield running
    await running.stop()


async def test_a_failed_vk_name_lookup_still_names_the_account_to_its_owner(
        platform: Platform, emulators: tuple[TelegramEmulator, VkEmulator]) -> None:
    tg, vk = TgUser(emulators[0], TG_USER), VkUser(emulators[1], VK_USER)
    vk.api.set_user(VK_USER, "Пётр", "Иванов")
    vk.api.users_get_error = 10  # VK's "internal server error": no name this time
    await tg.register(name="Анна Петрова")
    (issued,) = await tg.says("/link")
    asked_before = len(tg.messages)
    await vk.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    assert f"VK id{VK_USER}" in asked.text, asked.text
    assert "«—»" not in asked.text and "«»" not in asked.text, asked.text


@pytest.mark.parametrize(("locale", "expected"), [
    ("ru", "Подключить к вашему профилю аккаунт VK id2001?"),
    ("en", "Link the VK account id2001 to your profile?"),
], ids=["ru", "en"])
async def test_a_nameless_account_is_named_by_channel_and_id_in_every_locale(
        telegram: Chat, vk: Chat, locale: str, expected: str) -> None:
    await telegram.register(name="Анна")
    assert await telegram.send("/link") == ["link.code_issued"]
    code = str(telegram.param("code"))
    assert vk.display_name == ""  # the VK account comes without a name
    assert await vk.send(f"/link {code}") == ["link.approve", "link.waiting"]
    ask = vk.last[0]
    text = Templates.load().render("link.approve", CHANNELS["telegram"], locale, ask.params).text
    assert text.startswith(expected), text
    assert not [mark for mark in ("«—»", "“—”", "«»", "“”") if mark in text], text


async def test_a_known_name_is_still_quoted(telegram: Chat, engine) -> None:  # type: ignore[no-untyped-def]
    named = Chat.vk(engine, "2002", display_name="Пётр Иванов")
    await telegram.register(name="Анна")
    await telegram.send("/link")
    assert await named.send(f"/link {telegram.param('code')}") == ["link.approve", "link.waiting"]
    text = Templates.load().render("link.approve", CHANNELS["telegram"], "ru", named.last[0].params).text
    assert "аккаунт VK «Пётр Иванов»" in text, text
