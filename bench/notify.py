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
Telegram's 30 messages/s per bot and VK's 20 requests/s per community (beyond them they answer
429 / error 6, counted), e-mail and SMS limits are the configured ones (50/s, 10/s). Meanwhile
50 people (25 in Telegram, 25 in VK) chat with the bot: each sends an unknown command, waits
for the answer, reads and types for 2-5 s, again; ``p99_ms`` is the 99th percentile of their wait.
Per channel: messages/s delivered (notices and replies, VK counting requests, the check before a
first message included), against the limit.

Prints one line per figure: ``bulk db=… messages=… per_s=… lost=… duplicated=…``,
``limited channel=… per_s=… limit=… http_429=… lost=… duplicated=…`` and ``replies p99_ms=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
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

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import insert

from bench.bot_throughput import throwaway_postgres
from bots.email import EmailChannel, EmailSettings
from bots.emulators.sms_gateway import API_KEY, SmsGateway
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.sms import SmsChannel, SmsSettings
from bots.telegram import TelegramChannel, TelegramSettings
from bots.vk import VkChannel, VkSettings
from core.delivery import MessageStatus
from core.heartbeat import Heartbeat
from core.limits import Unlimited
from core.outbox import Outbox
from core.templates import Templates
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from storage.tables.messages import outbox as outbox_table
from storage.tables.people import channel_accounts, persons

TELEGRAM_TOKEN = "123456:bench-notify"
SHARES = (("telegram", 0.4), ("vk", 0.4), ("email", 0.1), ("sms", 0.1))
LIMITS = {"telegram": 30.0, "vk": 20.0, "email": 50.0, "sms": 10.0}
CHATTERS = 50


# the emulators, in a child process ----------------------------------------------------------------


class Letters:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()  # notice text -> letters with distinct Message-IDs
        self.ids: set[str] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content.decode("utf-8", "replace") if isinstance(envelope.content, bytes) else envelope.content
        head, _, _ = raw.partition("\r\n\r\n")
        message_id = next((line.split(":", 1)[1].strip() for line in head.splitlines()
                           if line.lower().startswith("message-id:")), "")
        if message_id not in self.ids:
            self.ids.add(message_id)
            self.received[message_id] += 1
        return "250 OK"


async def serve_emulators(ready: Any, limited: bool) -> None:
    telegram, vk, sms = TelegramEmulator(), VkEmulator(), SmsGateway()
    for server in (telegram, vk, sms):
        await server.start()
    if limited:
        telegram.rate_limit, vk.rate_limit = int(LIMITS["telegram"]), int(LIMITS["vk"])
    letters = Letters()
    smtp = await asyncio.get_running_loop().create_server(lambda: SMTP(letters), "127.0.0.1", 0)
    stop = asyncio.Event()

    async def stats(request: web.Request) -> web.Response:
        tg_texts = Counter(m.text for messages in telegram.outbox.by_user.values() for m in messages)
        vk_texts = Counter(m.text for messages in vk.outbox.by_user.values() for m in messages)
        sms_texts = Counter(m.text for m in sms.all())
        vk_requests = sum(1 for _, method, _ in vk.calls if method.startswith("messages."))
        return web.json_response({
            "telegram": tg_texts, "vk": vk_texts, "sms": sms_texts, "email": len(letters.ids),
            "email_resent": sum(letters.received.values()) - len(letters.ids),
            "vk_requests": vk_requests, "telegram_429": telegram.too_many, "vk_errors_6": vk.too_many,
            "sms_refused": sms.too_many})

    async def users(request: web.Request) -> web.Response:
        ids = await request.json()
        for user in ids:
            telegram.set_user(int(user), "Winner")
        return web.json_response({"ok": True})

    async def chat(request: web.Request) -> web.Response:
        """One chatter's turn: write, and answer when the reply came (seconds waited)."""
        body = await request.json()
        channel, user, text = body["channel"], int(body["user"]), body["text"]
        emulator = telegram if channel == "telegram" else vk
        before = emulator.outbox.count(user)
        started = time.monotonic()
        await (telegram.user_text(user, text) if channel == "telegram" else vk.user_text(user, text))
        await emulator.outbox.wait(user, before + 1, 30)
        return web.json_response({"waited": time.monotonic() - started})

    async def quit_(request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    control = web.Application()
    control.router.add_get("/stats", stats)
    control.router.add_post("/users", users)
    control.router.add_post("/chat", chat)
    control.router.add_post("/quit", quit_)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ready.send({"control": f"http://127.0.0.1:{port}", "telegram": telegram.base_url, "vk": vk.api_url,
                "vk_group": vk.group_id, "sms": sms.base_url, "smtp_port": smtp.sockets[0].getsockname()[1]})
    await stop.wait()
    await runner.cleanup()
    for server in (telegram, vk, sms):
        await server.stop()
    smtp.close()


def emulator_process(ready: Any, limited: bool) -> None:
    logging.disable(logging.CRITICAL)
    asyncio.run(serve_emulators(ready, limited))


class Emulators:
    def __init__(self, limited: bool) -> None:
        self.limited = limited
        self.process: multiprocessing.Process | None = None
        self.urls: dict[str, Any] = {}

    async def __aenter__(self) -> Emulators:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=emulator_process,
                                                                    args=(child, self.limited), daemon=True)
        self.process.start()
        self.urls = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.urls["control"] + path, json=body) as answer:
            return await answer.json()

    async def __aexit__(self, *exc: object) -> None:
        await self.call("POST", "/quit")
        await self.http.close()
        assert self.process is not None
        self.process.join(10)


# people and their notices ---------------------------------------------------------------------------


def plan(messages: int) -> list[tuple[int, str, str]]:
    """(person id, channel, address) for every person."""
    people, person_id = [], 0
    for channel, share in SHARES:
        for n in range(int(messages * share)):
            person_id += 1
            address = {"telegram": str(500_000 + n), "vk": str(600_000 + n), "email": f"w{n}@mail.example",
                       "sms": f"+7999{n:07d}"}[channel]
            people.append((person_id, channel, address))
    return people


async def seed(url: str, people: list[tuple[int, str, str]], now: datetime) -> None:
    engine = create_engine(url)
    await migrate(engine)
    page = 5_000
    async with engine.begin() as connection:
        for start in range(0, len(people), page):
            chunk = people[start:start + page]
            await connection.execute(insert(persons), [
                {"id": p, "locale": "ru", "created_at": now, "registered_at": now, "phone_verified": False,
                 "email_verified": False} for p, _, _ in chunk])
            await connection.execute(insert(channel_accounts), [
                {"person_id": p, "channel": c, "external_id": a, "display_name": "", "created_at": now,
                 "last_seen_at": now if c in ("telegram", "vk") else None,
                 "verified_at": now if c in ("email", "sms") else None} for p, c, a in chunk])
            await connection.execute(insert(outbox_table), [
                {"person_id": p, "template": "notify.announcement", "params": {"text": f"notice {p}"},
                 "locale": "ru", "status": MessageStatus.PENDING.value, "bulk": True, "attempts": 0,
                 "next_attempt_at": now, "created_at": now, "round": 0} for p, _, _ in chunk])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequence past them
            from sqlalchemy import text

            await connection.execute(text("SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))"))
    await engine.dispose()


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
        await emulators.call("POST", "/users", [int(a) for _, c, a in people if c == "telegram"])
        engine = create_engine(url)
        store = SqlStore(engine)
        channels = channels_for(emulators.urls)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        outbox = Outbox(store, Templates.load(), {c.profile.name: c for c in channels}, clock=clock,
                        worker_id="bench", limiter=Unlimited())
        heartbeat = Heartbeat(store, "bench", clock)  # its leases hold only while it beats
        await heartbeat.start()
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
    parser.add_argument("--only", choices=("bulk", "limited"), default=None)
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


if __name__ == "__main__":
    asyncio.run(main())
