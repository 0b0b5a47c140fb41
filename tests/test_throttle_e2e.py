"""Through the real aiogram and vkbottle: chats the channel throttles wait alone, the others are answered as usual; 429s
from many chats at once slow the channel down and it recovers; a chat in a long window has its reply postponed in
the database and a winner's notice goes to the person's next messenger, with the reason stored."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta

import pytest

from bots.emulators.max_api import MaxEmulator
from core.channels import ChannelName
from core.pacing import LONG_HOLD
from core.throttle import CALM
from tests.platform import eventually, platform_settings, started
from tests.test_channel_down_e2e import TG_USER, VK_USER, decision_of, tell_winner

TELEGRAM = ChannelName("telegram")
OTHERS_WITHIN = 2.0  # seconds: what a chat next to flooded ones may wait for its reply


@pytest.fixture
async def platform(tmp_path, emulators):
    running = await started(platform_settings(tmp_path, quiet_hours="off"), emulators[1])
    yield running
    await running.stop()


async def replied_within(emulator, users: list[int]) -> dict[int, float]:
    """Every user writes /help at once; seconds until each got the reply."""
    started_at = time.monotonic()
    await asyncio.gather(*(emulator.user_text(user, "/help") for user in users))

    async def waited(user: int) -> float:
        await emulator.wait_for_messages(user, 1, timeout=60)
        return time.monotonic() - started_at

    return dict(zip(users, await asyncio.gather(*(waited(user) for user in users)), strict=True))


async def test_telegram_chats_next_to_throttled_ones_are_answered_within_two_seconds(platform, emulators) -> None:
    telegram = emulators[0]
    users = list(range(5001, 5021))
    flooded = users[::2]
    for user in users:
        telegram.set_user(user, f"Гость {user}")
    for user in flooded:
        telegram.throttle(user, sends=5, retry_after=2)
    waits = await replied_within(telegram, users)
    others = {user: wait for user, wait in waits.items() if user not in flooded}
    assert max(others.values()) < OTHERS_WITHIN, others
    assert min(waits[user] for user in flooded) >= 5 * 2 - 1  # each flooded chat waited its own five windows
    assert all(len(telegram.messages_to(user)) == 1 for user in users)  # nothing lost, nothing twice


async def test_vk_chats_next_to_flood_controlled_ones_are_answered_within_two_seconds(platform, emulators) -> None:
    vk = emulators[1]
    users = list(range(6001, 6021))
    flooded = users[::2]
    for user in flooded:
        vk.throttle(user, sends=3)  # error 9: this chat's flood control
    waits = await replied_within(vk, users)
    assert max(wait for user, wait in waits.items() if user not in flooded) < OTHERS_WITHIN, waits
    assert all(len(vk.messages_to(user)) == 1 for user in users)


async def test_max_chats_next_to_throttled_ones_are_answered_within_two_seconds(tmp_path, emulators,
                                                                                monkeypatch) -> None:
    max_emulator = MaxEmulator()
    await max_emulator.start()
    monkeypatch.setenv("MAX_BOT_TOKEN", max_emulator.token)
    monkeypatch.setenv("MAX_API_BASE", max_emulator.base_url)
    running = await started(platform_settings(tmp_path, quiet_hours="off"), emulators[1])
    try:
        await eventually(lambda: max_emulator.polling)
        users = list(range(8001, 8021))
        flooded = users[::2]
        for user in users:
            max_emulator.set_user(user, f"Гость {user}")
        for user in flooded:
            max_emulator.throttle(user, sends=3)  # MAX's 429 names neither a pause nor whose limit it was
        waits = await replied_within(max_emulator, users)
        assert max(wait for user, wait in waits.items() if user not in flooded) < OTHERS_WITHIN, waits
        assert all(len(max_emulator.messages_to(user)) == 1 for user in users)
    finally:
        await running.stop()
        await max_emulator.stop()


async def test_429s_from_many_chats_at_once_slow_telegram_down_and_it_recovers_with_nothing_lost(
        platform, emulators) -> None:
    telegram = emulators[0]
    telegram.rate_limit = 8  # the bot's own limit, lower than it sends at: 429s come for every chat
    users = list(range(7001, 7061))
    for user in users:
        telegram.set_user(user, f"Гость {user}")
    await asyncio.gather(*(telegram.user_text(user, "/help") for user in users))
    await asyncio.gather(*(telegram.wait_for_messages(user, 1, timeout=60) for user in users))
    adaptive = platform.outbox.pacer.rates[TELEGRAM]
    assert adaptive.lowered >= 1 and telegram.too_many >= 3
    assert adaptive.lowest < 1.0
    telegram.rate_limit = None
    await asyncio.sleep(CALM * 12)
    assert adaptive.rate() == adaptive.nominal  # back up, step by step
    assert all(len(telegram.messages_to(user)) == 1 for user in users)


async def test_a_chat_in_a_long_window_is_postponed_in_the_database_and_its_winner_notice_goes_to_vk(
        platform, emulators, tmp_path) -> None:
    telegram, vk = emulators
    from tests.test_channel_down_e2e import two_messenger_person

    person_id = await two_messenger_person(platform, (ChannelName("vk"), VK_USER, vk))
    window = int(LONG_HOLD * 60)
    telegram.throttle(TG_USER, sends=1, retry_after=window)
    await telegram.user_text(TG_USER, "/help")

    def postponed() -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / "platform.db") as db:
            rows = db.execute("SELECT status, next_attempt_at FROM outbox WHERE person_id = ?", (person_id,)).fetchall()
        later = (platform.engine.clock() + timedelta(seconds=window - 60)).replace(tzinfo=None).isoformat(" ")
        return [r for r in rows if r[0] == "pending" and r[1] is not None and str(r[1]) > later]

    await eventually(postponed, timeout=10)  # kept in the database: a restart or another process honours it
    telegram.set_user(5999, "Сосед")
    await telegram.user_text(5999, "/help")
    await telegram.wait_for_messages(5999, 1, timeout=OTHERS_WITHIN)  # the others are not held

    message_id = await tell_winner(platform, person_id)
    (notice,) = await vk.wait_for_messages(VK_USER, 1, timeout=10)
    assert "Вы выиграли приз!" in notice.text
    decision = await eventually(decision_of(platform, message_id))
    tried = {c.channel: c.outcome for c in decision.candidates}
    assert decision.channel == "vk" and "throttled" in tried["telegram"], tried
    assert telegram.messages_to(TG_USER) == []
