"""A bystander's reply latency while ten hostile images are being decoded (the issue's target: p99 under 1 s).

    python bench/stall.py [--seconds 20] [--hostile 10]

Starts the platform (``run.bootstrap``) against the Telegram and VK emulators, on a SQLite file
in a temporary folder, with the default photo settings (2 workers, 5 s budget, queue of 4),
waits until the photo workers are up (not timed), and registers through the bots one Telegram
bystander, one VK bystander and ``--hostile`` Telegram users. Then, twice, the bystanders each
send "/help" in a loop for ``--seconds``, every time waiting for the reply:

* ``baseline``: nothing else happens;
* ``stall``: at the same moment, every hostile user sends ``tests.images.hostile_grid()``
  (a 6300x6300 PNG of 81 KB that keeps zxing busy for ~25 s) as a document, mime image/png,
  and waits for the bot's answer.

Printed:

    # photo_workers=2 budget_s=5.0 queue=4 photo_workers_ready_after_start=…s (not timed) hostile_png_bytes=…
    baseline hostile_images=0 bystander_replies=… p50_ms=… p99_ms=… max_ms=… (telegram … vk …)
    stall hostile_images=10 bystander_replies=… p50_ms=… p99_ms=… max_ms=… (telegram … vk …)
    stall hostile answers: too_slow=… busy=… other=… unanswered=… all_answered_after_s=…
    target p99 < 1000 ms: met | missed

With 2 workers and a queue of 4, six images are taken, two at a time, each stopped at its
5 s budget ("too slow"), and four are answered "busy" at once. By design the "too slow"
answers come at about 5, 10 and 15 s; measured here (Python 3.11.7, Nov 2026) they came at
about 5, 25-30 and 45-60 s: a worker that replaces a killed one first imports the main
script again as ``__mp_main__`` (this script, hence run.py, aiogram, vkbottle; 15-25 s on
the shared cores, at nice 0), because Python 3.11's forkserver never preloads ``__main__``
(CPython gh-98552 / gh-126631: fixed upstream in 2025, not in 3.11). The hostile line shows it.
Latencies are measured by the simulated person, from pushing the update into the emulator to
the reply arriving there. The machine has 2 cores that other people's jobs share: figures
vary with their load, so compare the two lines of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot_throughput import (
    REGISTRATION_STEPS,
    start_platform,
    telegram_registration,
    vk_registration,
    warm_up,
)
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.settings import Settings
from tests.images import hostile_grid, receipt_photo

REPLY_TIMEOUT = 180.0
TG_BYSTANDER, VK_BYSTANDER = 5_000, 6_000
HOSTILE_BASE = 7_000
TOO_SLOW_MARK = "Не успел прочитать"  # receipt.photo_too_slow
BUSY_MARK = "разбираю много фото"  # receipt.photo_busy
WARM_UP_FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"

Send = Callable[[], Awaitable[object]]
Wait = Callable[[int], Awaitable[object]]


async def register(telegram: TelegramEmulator, vk: VkEmulator, tg_users: list[int], vk_users: list[int]) -> None:
    async def one(step: Callable[[int, int], Awaitable[object]], wait: Wait, user: int) -> None:
        for index in range(REGISTRATION_STEPS):
            await step(user, index)
            await wait(index + 1)

    await asyncio.gather(
        *(one(lambda u, i: telegram_registration(telegram, u, i),
              lambda n, u=user: telegram.wait_for_messages(u, n, REPLY_TIMEOUT), user) for user in tg_users),
        *(one(lambda u, i: vk_registration(vk, u, i),
              lambda n, u=user: vk.wait_for_messages(u, n, REPLY_TIMEOUT), user) for user in vk_users))


async def bystander(send: Send, wait: Wait, count: Callable[[], int], seconds: float,
                    started: float) -> list[tuple[float, float]]:
    """(seconds since ``started`` the message was sent, its reply latency) for each "/help" of the loop."""
    samples: list[tuple[float, float]] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        expected = count() + 1
        sent = time.perf_counter()
        await send()
        await wait(expected)
        samples.append((sent - started, time.perf_counter() - sent))
    return samples


async def bystanders(telegram: TelegramEmulator, vk: VkEmulator, seconds: float,
                     started: float) -> dict[str, list[tuple[float, float]]]:
    tg, vk_samples = await asyncio.gather(
        bystander(lambda: telegram.user_text(TG_BYSTANDER, "/help"),
                  lambda n: telegram.wait_for_messages(TG_BYSTANDER, n, REPLY_TIMEOUT),
                  lambda: telegram.outbox.count(TG_BYSTANDER), seconds, started),
        bystander(lambda: vk.user_text(VK_BYSTANDER, "/help"),
                  lambda n: vk.wait_for_messages(VK_BYSTANDER, n, REPLY_TIMEOUT),
                  lambda: vk.outbox.count(VK_BYSTANDER), seconds, started))
    return {"telegram": tg, "vk": vk_samples}


async def hostile(telegram: TelegramEmulator, user: int, image: bytes, started: float) -> tuple[str, float | None]:
    """What the hostile user was answered first, and when (seconds after ``started``)."""
    before = telegram.outbox.count(user)
    await telegram.user_document(user, image, "grid.png", "image/png")
    try:
        messages = await telegram.wait_for_messages(user, before + 1, REPLY_TIMEOUT)
    except TimeoutError:
        return "unanswered", None
    answered = time.perf_counter() - started
    text = messages[before].text
    return ("too_slow" if TOO_SLOW_MARK in text else "busy" if BUSY_MARK in text else "other"), answered


def figures(label: str, images: int, samples: dict[str, list[tuple[float, float]]]) -> tuple[str, float]:
    latencies = [latency for channel in samples.values() for _, latency in channel]
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    worst = max(latencies)
    when = next(at for channel in samples.values() for at, latency in channel if latency == worst)
    per_channel = " ".join(f"{name} n={len(s)} max_ms={max(lat for _, lat in s) * 1000:.0f}"
                           for name, s in samples.items() if s)
    return (f"{label} hostile_images={images} bystander_replies={len(latencies)} p50_ms={cuts[49] * 1000:.0f} "
            f"p99_ms={cuts[98] * 1000:.0f} max_ms={worst * 1000:.0f} (worst sent at {when:.1f}s; {per_channel})",
            cuts[98])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each bystander keeps writing")
    parser.add_argument("--hostile", type=int, default=10, help="hostile images sent at once")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("vkbottle").handlers.clear()

    image = hostile_grid()
    hostile_users = [HOSTILE_BASE + n for n in range(args.hostile)]
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # no project .env is read
        telegram, vk = TelegramEmulator(), VkEmulator()
        await telegram.start()
        await vk.start()
        # the photo settings are the defaults: 2 workers, 5 s, queue 4; the rate limits are lifted, or Telegram's
        # one message a second per chat would set the bystander's pace (it writes again as soon as answered)
        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder}/stall.db", web_port=0,
                            sandbox=False, rate_limits=False)
        platform = await start_platform(settings, telegram, vk)
        try:
            ready = await warm_up(platform, receipt_photo(WARM_UP_FISCAL, size=(480, 640)))
            await register(telegram, vk, [TG_BYSTANDER, *hostile_users], [VK_BYSTANDER])
            print(f"# photo_workers={platform.photos.workers} budget_s={platform.photos.budget_seconds} "
                  f"queue={platform.photos.limit - platform.photos.workers} "
                  f"photo_workers_ready_after_start={ready:.1f}s (not timed) hostile_png_bytes={len(image)}",
                  flush=True)

            started = time.perf_counter()
            baseline = await bystanders(telegram, vk, args.seconds, started)
            print(figures("baseline", 0, baseline)[0], flush=True)

            started = time.perf_counter()
            attack = asyncio.gather(*(hostile(telegram, user, image, started) for user in hostile_users))
            stalled = await bystanders(telegram, vk, args.seconds, started)
            answers = await attack
        finally:
            await platform.stop()
            await telegram.stop()
            await vk.stop()
    line, p99 = figures("stall", args.hostile, stalled)
    print(line)
    outcomes = Counter(kind for kind, _ in answers)
    times = [at for _, at in answers if at is not None]
    print(f"stall hostile answers: too_slow={outcomes['too_slow']} busy={outcomes['busy']} "
          f"other={outcomes['other']} unanswered={outcomes['unanswered']} "
          f"all_answered_after_s={max(times) if times else float('nan'):.1f} "
          f"(each: {' '.join(f'{at:.1f}' for at in sorted(times))})")
    print(f"target p99 < 1000 ms: {'met' if p99 < 1.0 else 'missed'}")


if __name__ == "__main__":
    asyncio.run(main())
