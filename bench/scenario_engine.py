"""Registration of N people through the scenario engine: events per second and p50/p99 latency.

    python bench/scenario_engine.py [--people 2000] [--concurrency 50] [--postgres URL]

Runs on a fresh SQLite file, then on PostgreSQL when one answers (default 127.0.0.1:5432/test,
in a throw-away database). Each person sends 5 events: /start, consent, name, phone, skip e-mail.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from core.channels import ChannelDirectory, ChannelName
from core.engine import Engine
from core.events import InboundEvent
from core.photos import PhotoReader
from core.scenarios import catalog, core_scenarios
from core.services import Services
from core.settings import Settings
from storage.database import create_engine, migrate
from storage.sql import SqlStore

TELEGRAM = ChannelName("telegram")


def _events(person: int) -> list[InboundEvent]:
    account = str(10_000_000 + person)
    ids = (f"{person}-{step}" for step in range(5))
    phone = f"+7916{person:07d}"
    return [
        InboundEvent.from_text(TELEGRAM, account, "/start", update_id=next(ids)),
        InboundEvent.button(TELEGRAM, account, "consent:yes", update_id=next(ids)),
        InboundEvent.from_text(TELEGRAM, account, "Анна Петрова", update_id=next(ids)),
        InboundEvent.from_text(TELEGRAM, account, phone, update_id=next(ids)),
        InboundEvent.button(TELEGRAM, account, "email:skip", update_id=next(ids)),
    ]


async def run(url: str, people: int, concurrency: int) -> str:
    db = create_engine(url, pool_size=concurrency if "postgresql" in url else 5)
    await migrate(db)
    settings = Settings(_env_file=None, database_url=url)
    photos = PhotoReader(workers=1, budget_seconds=5, queue_limit=0, zone=settings.zone)
    services = Services(settings.campaign, photos, ChannelDirectory([]), "http://127.0.0.1/rules")
    store = SqlStore(db)
    engine = Engine(store, catalog(core_scenarios()), services, settings)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for person in range(people):
        queue.put_nowait(person)

    async def worker() -> None:
        while not queue.empty():
            person = queue.get_nowait()
            for event in _events(person):
                started = time.perf_counter()
                replies = await engine.handle(event)
                latencies.append(time.perf_counter() - started)
                assert replies, f"no reply to {event}"

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await store.close()
    await db.dispose()
    await photos.close()
    cuts = statistics.quantiles(latencies, n=100)
    return (f"events={len(latencies)} people={people} concurrency={concurrency} "
            f"events_per_s={len(latencies) / elapsed:.0f} p50_ms={cuts[49] * 1000:.1f} "
            f"p99_ms={cuts[98] * 1000:.1f} total_s={elapsed:.1f}")


async def with_postgres(base: str, people: int, concurrency: int) -> str | None:
    host = base.split("@")[-1].split("/")[0]
    name, _, port = host.partition(":")
    try:
        socket.create_connection((name, int(port or 5432)), timeout=1).close()
    except OSError:
        return None
    database = f"promo_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        return await run(base.rsplit("/", 1)[0] + f"/{database}", people, concurrency)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        line = await run(f"sqlite+aiosqlite:///{folder}/bench.db", args.people, args.concurrency)
        print(f"sqlite     {line}", flush=True)
    postgres = await with_postgres(args.postgres, args.people, args.concurrency)
    print(f"postgresql {postgres}" if postgres else "postgresql not reachable: skipped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
