"""VK counts every method against the community's 20 requests a second, not only ``messages.send``: the name
lookups of newcomers (``users.get``) and a photo's upload wait for a turn of the same bucket as the sends, so a
bot pacing its sends right at the limit is not refused while people write to it (through the real vkbottle, over
HTTP, against the emulator that refuses the 21st request of any second with error 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.channels import ChannelName
from core.events import OutgoingMessage
from run import Platform
from tests.platform import eventually, platform_settings, point_channels_at, started

NOTICED = range(30_001, 30_081)  # 80 people with a notice queued: four seconds of sends at the limit
NEWCOMERS = range(31_001, 31_013)  # people who write meanwhile, each one a users.get
# 1 + floor(19.2 + 0.15) = 20 sends may go in one second at this rate: exactly VK's limit, so any request the
# bucket did not count would be refused
RIGHT_AT_THE_LIMIT = "19.2"


@pytest.fixture
async def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   emulators: tuple[TelegramEmulator, VkEmulator]) -> AsyncIterator[Platform]:
    vk = emulators[1]
    point_channels_at(monkeypatch, None, vk, VK_RATE_PER_SECOND=RIGHT_AT_THE_LIMIT)
    running = await started(platform_settings(tmp_path, quiet_hours="off"), vk)
    yield running
    await running.stop()


async def queue_notices(platform: Platform, image: bytes | None = None) -> None:
    now = datetime.now(UTC)
    async with platform.store.transaction() as tx:
        for user in NOTICED:
            person = await tx.people.create("ru", now)
            account = await tx.people.add_account(person.id, ChannelName("vk"), str(user), "", now)
            account.last_seen_at = now
            await tx.people.touch_account(account)
            data = {"text": f"notice {user}"}
            tx.messages.enqueue(OutgoingMessage(person.id, "notify.announcement", data, "ru", bulk=True), now)
    platform.outbox.wake()


async def test_name_lookups_take_their_turn_with_the_sends_and_vk_refuses_none(
        platform: Platform, emulators: tuple[TelegramEmulator, VkEmulator]) -> None:
    vk = emulators[1]
    vk.rate_limit = 20
    await queue_notices(platform)
    for user in NEWCOMERS:
        vk.set_user(user, "Имя", f"Фамилия{user}")
        await vk.user_text(user, "/start")
        await eventually(lambda user=user: vk.outbox.count(user), timeout=15)  # one lookup each: a second apart
    await eventually(lambda: all(vk.outbox.count(user) for user in NOTICED), timeout=30)
    lookups = sum(1 for _, method, _ in vk.calls if method == "users.get")
    assert lookups >= 3, f"the newcomers' names were looked up {lookups} times: the test did not test the lookups"
    assert vk.too_many == 0, f"VK refused {vk.too_many} requests: a lookup went outside the community's bucket"
