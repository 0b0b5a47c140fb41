"""Winner notices through the outbox: (a) flat out with the limits lifted, (b) 60 seconds at the channels' real limits.

    python bench/notify.py [--messages 100000] [--seconds 60] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]

(a) ``bulk``: ``--messages`` people, each with one account (40% Telegram, 40% VK, 10% e-mail,
10% SMS; e-mail and phones verified), each with one unaddressed notice queued (bulk). The
outbox routes each (reading the people's accounts, records and preferences per claimed batch,
asking VK ``isMessagesFromGroupAllowed`` before a first unsolicited message), sends it through
the real channel code (aiogram, vkbottle, aiosmtplib, the SMS.ru client) to the emulators, which
run in a child process (the other core), and records the outcome and the routing decision.
The clock runs from the first claim to the last notice received. ``lost``: queued notices the
emulators never got; ``duplicated``: notices an emulator got more than once (VK's by random_id
and e-mail by Message-ID count as the same message, as the platforms treat them). On PostgreSQL
(a throw-away database on the given server) and on a SQLite file.

(b) ``limited``: the whole platform (``run.bootstrap``, SQLite, polling, the in-process
limiter) with a backlog of notices in every channel, for ``--seconds``: the emulators enforce
Telegram's 30 messages/s per bot, VK's 20 requests/s per community and MAX's 30 requests/s per
token and 2 messages/s per chat (beyond them they answer 429 / error 6, counted), e-mail and SMS
limits are the configured ones (50/s, 10/s). Meanwhile 75 people (25 each in Telegram, VK and
MAX) chat with the bot: each sends an unknown command, waits for the answer, reads and types for
2-5 s, again; ``p99_ms`` is the 99th percentile of their wait. Per channel: messages/s delivered
(notices and replies, VK counting requests, the check before a first message included; MAX its
messages and button answers), against the limit; for MAX also the most messages one chat got in
any one second (``per_chat_peak``, limit 2) and the most requests in any one second (``token_peak``).

(c) ``flood``: 100 people per messenger (Telegram, VK) chatting while a tenth of the chats are
throttled by the channel (429, VK error 9) all along (``bench/notify_flood.py``): p99 of the
others' waits for a reply, which must stay below 2 s.

Prints one line per figure: ``bulk db=… messages=… per_s=… lost=… duplicated=…``,
``limited channel=… per_s=… limit=… http_429=… lost=… duplicated=…`` (MAX: ``per_chat_peak=… token_peak=…``)
``replies p99_ms=…`` and ``replies_under_flood channel=… p99_ms=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.bot_throughput import throwaway_postgres
from bench.notify_world import Emulators, plan, seed
from bots.email import EmailChannel, EmailSettings
from bots.emulators.sms_gateway import API_KEY
from bots.sms import SmsChannel, SmsSettings
from bots.telegram import TelegramChannel, TelegramSettings
from bots.vk import VkChannel, VkSettings
from core.heartbeat import Heartbeat
from core.limits import Unlimited
from core.outbox import Outbox
from core.templates import Templates
from run import settle_heap
from storage.database import create_engine
from storage.sql import SqlStore

TELEGRAM_TOKEN = "123456:bench-notify"


def channels_for(urls: dict[str, Any], *, email_rate: float = 10_000, sms_rate: float = 10_000) -> list[Any]:
    return [
        TelegramChannel(TelegramSettings(_env_file=None, bot_token=TELEGRAM_TOKEN, api_base=urls["telegram"]),
                        "polling"),
        VkChannel(VkSettings(_env_file=None, bot_token="vk-bench", group_id=urls["vk_group"], api_base=urls["vk"]),
                  "polling"),
        EmailChannel(EmailSettings(_env_file=None, smtp_host="127.0.0.1", smtp_port=urls["smtp_port"],
                                   smtp_security="none", link_secret="bench-notify-link-secret",
                                   connections=8, rate_per_second=email_rate), "polling"),
        SmsChannel(SmsSettings(_env_file=None, api_key=API_KEY, api_base=urls["sms"],
                               rate_per_second=sms_rate), "polling"),
    ]


def count_outcomes(stats: dict[str, Any], people: list[tuple[int, str, str]]) -> tuple[int, int, int]:
    """(received, lost, duplicated) over the planned notices."""
    received: Counter[str] = Counter()
    for channel in ("telegram", "vk", "sms"):
        received.update({text: n for text, n in stats[channel].items() if text.startswith("notice ")})
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    got = len(received) + stats["email"]
    return got, len(people) - got, duplicated


async def bulk(kind: str, url: str, messages: int) -> str:
    people = plan(messages)
    now = datetime.now(UTC) - timedelta(seconds=5)
    await seed(url, people, now)
    async with Emulators(limited=False) as emulators:
        await emulators.call("POST", "/users", {"telegram": [int(a) for _, c, a in people if c == "telegram"]})
        engine = create_engine(url)
        store = SqlStore(engine)
        channels = channels_for(emulators.urls)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        outbox = Outbox(store, Templates.load(), {c.profile.name: c for c in channels}, clock=clock,
                        worker_id="bench", limiter=Unlimited())
        heartbeat = Heartbeat(store, "bench", clock)  # its leases hold only while it beats
        await heartbeat.start()
        settle_heap()  # as run.py does once started
        beating = asyncio.create_task(heartbeat.run())
        started = time.monotonic()
        running = asyncio.create_task(outbox.run(idle_poll=0.05))
        deadline = started + max(600.0, messages / 50)
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            stats = await emulators.call("GET", "/stats")
            received, _, _ = count_outcomes(stats, people)
            if received >= len(people):
                break
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.0)
        stats = await emulators.call("GET", "/stats")
        received, lost, duplicated = count_outcomes(stats, people)
        await outbox.stop()
        running.cancel()
        await heartbeat.stop()
        beating.cancel()
        for channel in channels:
            await channel.close()
        await store.close()
        await engine.dispose()
    return (f"bulk db={kind} messages={len(people)} per_s={received / elapsed:.0f} lost={lost} "
            f"duplicated={duplicated} seconds={elapsed:.1f}")


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1).close()
    except OSError:
        return False
    return True


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--only", choices=("bulk", "limited", "flood"), default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("vkbottle").handlers.clear()
    logging.getLogger("vkbottle").setLevel(logging.ERROR)
    if args.only in (None, "bulk"):
        async with throwaway_postgres(args.postgres) as url:
            print(await bulk("postgresql", url, args.messages), flush=True)
        with tempfile.TemporaryDirectory() as folder:
            print(await bulk("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", args.messages),
                  flush=True)
    if args.only in (None, "limited"):
        from bench.notify_limited import limited

        redis_url = args.redis if redis_answers(args.redis) else None
        for line in await limited(args.seconds, args.postgres, redis_url):
            print(line, flush=True)
    if args.only in (None, "flood"):
        from bench.notify_flood import flood

        for line in await flood(min(args.seconds, 30.0)):
            print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
