"""``bench/notify.py`` part (b): the whole platform at the channels' real limits, with people chatting meanwhile.

Run through ``bench/notify.py`` (see its docstring for what is measured and printed).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bench.bot_throughput import throwaway_postgres
from bench.notify_world import LIMITS, Emulators, seed
from core.delivery import MessageStatus
from core.settings import Settings
from run import bootstrap, configure, settle_heap
from storage.database import create_engine
from storage.tables.messages import outbox as outbox_table

BACKLOG = {"telegram": 2500, "vk": 1000, "max": 2500, "email": 4000, "sms": 800}  # over 60 s of each one's limit
CHATTERS = 25  # per messenger
THINK_SECONDS = (2.0, 5.0)  # a person reads the answer and types the next message


def backlog_plan() -> list[tuple[int, str, str]]:
    people, person_id = [], 0
    for channel, count in BACKLOG.items():
        for n in range(count):
            person_id += 1
            address = {"telegram": str(500_000 + n), "vk": str(600_000 + n), "max": str(700_000 + n),
                       "email": f"w{n}@mail.example", "sms": f"+7999{n:07d}"}[channel]
            people.append((person_id, channel, address))
    return people


def delivered(stats: dict, channel: str) -> int:
    if channel == "vk":
        return int(stats["vk_requests"])
    if channel == "email":
        return int(stats["email"])
    if channel == "max":
        return int(stats["max_requests"])
    return sum(stats[channel].values())


async def chatter(emulators: Emulators, channel: str, user: int, until: float,
                  waits: list[tuple[str, float]]) -> None:
    turn = 0
    # people start at their own moments, as they do: fifty questions in one instant would measure the bot's
    # rate (VK: 25 replies at 19/s take 1.3 s however they are ordered), not how a broadcast delays a reply
    await asyncio.sleep(random.uniform(0, THINK_SECONDS[1]))
    while time.monotonic() < until:
        turn += 1
        answer = await emulators.call("POST", "/chat", {"channel": channel, "user": user, "text": f"/q{user}x{turn}"})
        waits.append((channel, float(answer["waited"])))
        await asyncio.sleep(random.uniform(*THINK_SECONDS))


async def limited(seconds: float, postgres: str, redis_url: str | None) -> list[str]:
    """On PostgreSQL, as the platform runs when it scales out, with the limits in Redis when one answers."""
    async with throwaway_postgres(postgres) as url:
        return await _limited(seconds, url, redis_url)


async def _limited(seconds: float, url: str, redis_url: str | None) -> list[str]:
    people = backlog_plan()
    await seed(url, people, datetime.now(UTC) - timedelta(seconds=5))
    async with Emulators(limited=True) as emulators:
        urls = emulators.urls
        chatting = {"telegram": list(range(1001, 1001 + CHATTERS)), "vk": list(range(2001, 2001 + CHATTERS)),
                    "max": list(range(3001, 3001 + CHATTERS))}
        await emulators.call("POST", "/users", {
            channel: [int(a) for _, c, a in people if c == channel] + chatting[channel]
            for channel in ("telegram", "max")})
        os.environ.update(
            TELEGRAM_BOT_TOKEN="123456:bench-notify", TELEGRAM_API_BASE=urls["telegram"],
            VK_BOT_TOKEN="vk-bench", VK_GROUP_ID=str(urls["vk_group"]), VK_API_BASE=urls["vk"],
            MAX_BOT_TOKEN=urls["max_token"], MAX_API_BASE=urls["max"],
            EMAIL_SMTP_HOST="127.0.0.1", EMAIL_SMTP_PORT=str(urls["smtp_port"]), EMAIL_SMTP_SECURITY="none",
            EMAIL_LINK_SECRET="bench-notify-link-secret", EMAIL_RATE_PER_SECOND=str(LIMITS["email"]),
            SMS_API_KEY="sms-test-key", SMS_API_BASE=urls["sms"], SMS_RATE_PER_SECOND=str(LIMITS["sms"]))
        settings = Settings(_env_file=None, database_url=url, web_port=0, sandbox=False, quiet_hours="off",
                            photo_workers=1, redis_url=redis_url)
        platform = await bootstrap(configure(settings))
        await platform.start()
        settle_heap()  # as run.py does once started
        await asyncio.sleep(2.0)  # the long polls connect; the first notices go
        before = await emulators.call("GET", "/stats")
        started = time.monotonic()
        waits: list[tuple[str, float]] = []
        await asyncio.gather(*(chatter(emulators, channel, user, started + seconds, waits)
                               for channel, users in chatting.items() for user in users))
        elapsed = time.monotonic() - started
        after = await emulators.call("GET", "/stats")
        await platform.stop()
        await asyncio.sleep(0.5)
        final = await emulators.call("GET", "/stats")
    recorded = await sent_notices(url)
    lines = []
    for channel in ("telegram", "vk", "max", "email", "sms"):
        per_s = (delivered(after, channel) - delivered(before, channel)) / elapsed
        refused = {"telegram": final["telegram_429"], "vk": final["vk_errors_6"], "sms": final["sms_refused"],
                   "max": final["max_429"], "email": 0}[channel]
        got: Counter[str] = Counter(final[channel]) if channel != "email" else Counter()
        notices = {p for p, c, _ in people if c == channel}
        received = {p for p in notices if got.get(f"notice {p}")} if channel != "email" else set()
        lost = len((recorded & notices) - received) if channel != "email" else max(
            len(recorded & notices) - int(final["email"]), 0)
        duplicated = sum(n - 1 for text, n in got.items() if n > 1)
        every = (after["max_all_requests"] - before["max_all_requests"]) / elapsed if channel == "max" else 0
        peaks = (f" requests_per_s={every:.1f} per_chat_peak={final['max_per_chat_peak']} "
                 f"token_peak={final['max_token_peak']}" if channel == "max" else "")
        lines.append(f"limited channel={channel} per_s={per_s:.1f} limit={LIMITS[channel]:g} http_429={refused} "
                     f"lost={lost} duplicated={duplicated}{peaks}")
    lines.insert(0, f"# limited: PostgreSQL, limiter {'in Redis' if redis_url else 'in process'}, "
                    f"{seconds:g} s, backlog {BACKLOG}")
    lines.append(f"replies {_latency([w for _, w in waits])} people={len(chatting) * CHATTERS}")
    for channel in chatting:
        lines.append(f"replies channel={channel} {_latency([w for c, w in waits if c == channel])}")
    return lines


def _latency(waits: list[float]) -> str:
    p99 = statistics.quantiles(waits, n=100)[98] if len(waits) >= 100 else max(waits, default=0.0)
    return (f"p99_ms={p99 * 1000:.0f} median_ms={statistics.median(waits or [0.0]) * 1000:.0f} "
            f"max_ms={max(waits, default=0.0) * 1000:.0f} answered={len(waits)}")


async def sent_notices(url: str) -> set[int]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(select(outbox_table.c.person_id).where(
            outbox_table.c.template == "notify.announcement", outbox_table.c.status == MessageStatus.SENT.value))
        found = {int(row[0]) for row in rows}
    await engine.dispose()
    return found
