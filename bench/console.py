"""The staff console under load: the ticket queue, a person's timeline (the ticket page) and the dashboard,
with 100,000 people and 1,000,000 messages in the database.

    python bench/console.py [--people 100000] [--messages 1000000] [--rounds 30] [--postgres URL]

Fills a fresh SQLite file, then PostgreSQL when one answers (default 127.0.0.1:5432/test, in a
throw-away database), through bulk inserts; then signs in and times each page over HTTP (the whole
aiohttp handler: queries, rendering, the response). Prints one line per page and database, e.g.
``page=timeline db=sqlite p50_ms=35 p95_ms=80``. Target: each under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, text

from bots.web.app import build_app
from bots.web.console import ConsoleConfig, console
from bots.web.console.auth import hash_password
from core.channels import ChannelDirectory, ChannelName, ChannelProfile, TextFormat
from core.templates import Templates
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from storage.tables.messages import message_log, outbox
from storage.tables.people import channel_accounts, persons
from storage.tables.receipts import receipts
from storage.tables.staff import staff_users
from storage.tables.support import ticket_events, tickets

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BATCH = 20_000
PASSWORD = "bench password 1"
CHANNELS = ChannelDirectory([ChannelProfile(ChannelName("telegram"), "Telegram", TextFormat.HTML, 4096),
                             ChannelProfile(ChannelName("vk"), "VK", TextFormat.PLAIN, 4096)])
TEMPLATES = ("common.menu", "receipt.approved", "receipt.refused_min_sum", "receipt.refused_daily_limit",
             "support.added", "common.unexpected")
STATUSES = ("sent", "sent", "sent", "sent", "failed", "unreachable")


def _ago(rng: random.Random, days: int = 60) -> datetime:
    return NOW - timedelta(seconds=rng.randrange(days * 86_400))


async def _bulk(connection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        await connection.execute(insert(table), rows[start:start + BATCH])


async def fill(url: str, people: int, messages: int) -> int:
    """The database as a busy campaign leaves it; the id of the person with the longest history."""
    rng = random.Random(7)
    database = create_engine(url)
    await migrate(database)
    async with database.begin() as connection:
        await _bulk(connection, persons, [
            {"id": i, "name": f"Участник {i}", "phone": f"+7916{i:07d}", "phone_verified": True, "email": None,
             "email_verified": False, "locale": "ru", "created_at": (at := _ago(rng)),
             "registered_at": at if i % 10 < 7 else None} for i in range(1, people + 1)])
        await _bulk(connection, channel_accounts, [
            {"person_id": i, "channel": "telegram" if i % 5 else "vk", "external_id": str(10_000_000 + i),
             "display_name": f"user{i}", "created_at": NOW} for i in range(1, people + 1)])
        await _bulk(connection, receipts, [
            {"person_id": rng.randrange(1, people + 1), "campaign": "promo", "fn": 7380440700000000 + i,
             "document_number": i, "fiscal_sign": 1_000_000 + i, "issued_at": (at := _ago(rng)),
             "sum_kopecks": 150_000, "operation": 1, "canonical": f"t=20261101T1200&s=1500.00&fn={i}&i={i}&fp={i}&n=1",
             "source": "photo", "status": rng.choice(("accepted", "accepted", "rejected", "moderation")),
             "cashback_kopecks": 7_500, "entries": 15, "created_at": at, "check_attempts": 0}
            for i in range(1, people // 3 + 1)])
        heavy = 1  # person 1 has talked to us the most: the worst timeline
        half = messages // 2
        await _bulk(connection, message_log, [
            {"person_id": heavy if i % 100 == 0 else rng.randrange(1, people + 1), "channel": "telegram",
             "external_id": "1", "direction": "in", "kind": "text", "body": f"сообщение {i}",
             "created_at": _ago(rng)} for i in range(half)])
        await _bulk(connection, outbox, [
            {"person_id": heavy if i % 100 == 0 else rng.randrange(1, people + 1), "channel": "telegram",
             "external_id": "1", "template": rng.choice(TEMPLATES),
             "params": {"sum": "1 500,00", "cashback": "75,00", "reason": "x", "ticket": 1, "min_sum": "100,00",
                        "per_day": 5, "free_at": "10:00"},
             "locale": "ru", "status": rng.choice(STATUSES), "bulk": False, "attempts": 1,
             "next_attempt_at": (at := _ago(rng)), "created_at": at, "sent_at": at,
             "last_error": "vk: unreachable" if i % 17 == 0 else None} for i in range(messages - half)])
        await connection.execute(insert(staff_users).values(
            id=1, username="bench", display_name="Bench", role="admin", password_hash=hash_password(PASSWORD),
            active=True, locale="ru", created_at=NOW))
        ticket_rows = [{"id": i, "person_id": heavy if i == 1 else rng.randrange(1, people + 1), "campaign": "promo",
                        "channel": "telegram", "external_id": "1", "subject": f"Вопрос {i}",
                        "status": rng.choice(("new", "open", "waiting", "closed", "closed")),
                        "created_at": (at := _ago(rng, 30)), "updated_at": at, "last_person_at": at, "version": 1}
                       for i in range(1, people // 50 + 1)]
        await _bulk(connection, tickets, ticket_rows)
        await _bulk(connection, ticket_events, [
            {"ticket_id": row["id"], "person_id": row["person_id"], "kind": "person", "body": "текст",
             "created_at": row["created_at"]} for row in ticket_rows for _ in range(3)])
        if connection.dialect.name == "postgresql":
            for table in ("persons", "channel_accounts", "tickets", "staff_users"):
                await connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            await connection.execute(text("ANALYZE"))
        else:
            await connection.execute(text("ANALYZE"))
    await database.dispose()
    return heavy


async def measure(url: str, kind: str, rounds: int) -> None:
    database = create_engine(url)
    store = SqlStore(database)
    config = ConsoleConfig(store, Templates.load(), CHANNELS, lambda: NOW, ZoneInfo("Europe/Moscow"),
                           lambda _: timedelta(hours=24))
    client = TestClient(TestServer(build_app("bench", [], {"/console": console(config)})))
    await client.start_server()
    try:
        answer = await client.post("/console/login", data={"username": "bench", "password": PASSWORD},
                                   allow_redirects=False)
        assert answer.status == 302, answer.status
        for page, path in (("queue", "/console/tickets"), ("timeline", "/console/tickets/1"),
                           ("dashboard", "/console/dashboard")):
            times = []
            for _ in range(rounds + 2):
                started = time.perf_counter()
                response = await client.get(path)
                await response.read()
                assert response.status == 200, (page, response.status)
                times.append((time.perf_counter() - started) * 1000)
            times = sorted(times[2:])  # the first two warm the caches
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"page={page} db={kind} p50_ms={statistics.median(times):.0f} p95_ms={p95:.0f}", flush=True)
    finally:
        await client.close()
        await store.close()
        await database.dispose()


def _postgres_answers(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return True
    except OSError:
        return False


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'console.db'}"
            started = time.perf_counter()
            await fill(url, args.people, args.messages)
            print(f"# sqlite filled: {args.people} people, {args.messages} messages in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            await measure(url, "sqlite", args.rounds)
    if args.only != "sqlite" and _postgres_answers(args.postgres):
        name = f"bench_console_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        try:
            started = time.perf_counter()
            await fill(url, args.people, args.messages)
            print(f"# postgresql filled in {time.perf_counter() - started:.0f} s", flush=True)
            await measure(url, "postgresql", args.rounds)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
