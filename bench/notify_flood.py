"""``bench/notify.py`` part (c): how long people wait for a reply while the channel throttles a tenth of the chats.

100 people per messenger chat with the whole platform (``run.bootstrap``, SQLite, polling, the
in-process limiter), each writing a command, waiting for the answer and typing again after
0.3-1 s, for ``--seconds``. Ten of them are flooded: Telegram answers every send to them with 429
(``retry_after`` 5 s), VK with error 9 (flood control), for the whole run; they keep writing without
waiting. ``replies_under_flood``: p99 (and median, max) of the other 90 people's waits, per
messenger. Before a 429 held only its own chat, one flooded chat paused the whole Telegram channel.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.settings import Settings
from run import bootstrap, configure

PEOPLE = 100  # per messenger
FLOODED = 10
TYPING = (4.0, 10.0)  # reading and typing: 90 people then ask about 13 times a second, under every limit
FLOOD_WINDOW = 5  # Telegram's retry_after for a flooded chat
ENDLESS = 1_000_000  # sends refused: for the whole run


async def flood(seconds: float) -> list[str]:
    telegram, vk = TelegramEmulator(), VkEmulator()
    await telegram.start()
    await vk.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            return await _flood(seconds, telegram, vk, Path(folder))
    finally:
        await telegram.stop()
        await vk.stop()


async def _flood(seconds: float, telegram: TelegramEmulator, vk: VkEmulator, folder: Path) -> list[str]:
    users = {"telegram": list(range(10_001, 10_001 + PEOPLE)), "vk": list(range(20_001, 20_001 + PEOPLE))}
    flooded = {channel: set(ids[:FLOODED]) for channel, ids in users.items()}
    for user in users["telegram"]:
        telegram.set_user(user, f"Гость {user}")
    for user in flooded["telegram"]:
        telegram.throttle(user, sends=ENDLESS, retry_after=FLOOD_WINDOW)
    for user in flooded["vk"]:
        vk.throttle(user, sends=ENDLESS)
    for name in ("MAX_BOT_TOKEN", "OK_BOT_TOKEN", "WHATSAPP_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(TELEGRAM_BOT_TOKEN="123456:bench-flood", TELEGRAM_API_BASE=telegram.base_url,
                      VK_BOT_TOKEN="vk-bench-flood", VK_API_BASE=vk.base_url, VK_GROUP_ID=str(vk.group_id))
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder / 'flood.db'}", web_port=0,
                        sandbox=False, quiet_hours="off", photo_workers=1)
    platform = await bootstrap(configure(settings))
    vk.polling.clear()
    await platform.start()
    await asyncio.wait_for(vk.polling.wait(), 10)
    waits: dict[str, list[float]] = {"telegram": [], "vk": []}
    until = time.monotonic() + seconds
    emulators = {"telegram": telegram, "vk": vk}

    async def person(channel: str, user: int) -> None:
        emulator, turn = emulators[channel], 0
        await asyncio.sleep(random.uniform(0, TYPING[1]))
        while time.monotonic() < until:
            turn += 1
            sent = time.monotonic()
            await emulator.user_text(user, f"/q{user}x{turn}")
            if user in flooded[channel]:  # nothing comes back: they write again anyway
                await asyncio.sleep(random.uniform(*TYPING))
                continue
            await emulator.wait_for_messages(user, turn, timeout=120)
            waits[channel].append(time.monotonic() - sent)
            await asyncio.sleep(random.uniform(*TYPING))

    await asyncio.gather(*(person(channel, user) for channel, ids in users.items() for user in ids))
    await platform.stop()
    lines = []
    for channel, measured in waits.items():
        p99 = statistics.quantiles(measured, n=100)[98] if len(measured) >= 100 else max(measured, default=0.0)
        lines.append(f"replies_under_flood channel={channel} p99_ms={p99 * 1000:.0f} "
                     f"median_ms={statistics.median(measured or [0.0]) * 1000:.0f} "
                     f"max_ms={max(measured, default=0.0) * 1000:.0f} answered={len(measured)} "
                     f"flooded={FLOODED} of={PEOPLE} target_ms=2000")
    return lines
