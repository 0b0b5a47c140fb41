"""A broadcast spread over hours (issue 18 §3): its notices become due evenly over the time asked for, durably (they
wait in the outbox, not in a worker's memory), from the console's form and the command line alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import broadcasts
from core.broadcasts import BroadcastError
from core.channels import ChannelName
from core.delivery import MessageStatus
from core.ports import Store
from core.ports.messages import Outcome
from core.templates import Templates
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from tests.test_broadcasts import REGISTERED, cli

CHANNEL = ChannelName("telegram")


async def registered_people(store: Store, clock, count: int) -> None:  # type: ignore[no-untyped-def]
    async with store.transaction() as tx:
        for _ in range(count):
            person = await tx.people.create("ru", clock())
            person.registered_at = clock()
            await tx.people.save(person)


async def due_at(store: Store, when) -> int:  # type: ignore[no-untyped-def]
    """How many notices fall due by ``when`` (each is then recorded as sent: it is not due again)."""
    async with store.transaction() as tx:
        claimed = await tx.messages.claim_due(when, "w", when + timedelta(minutes=2), when, 100)
        await tx.messages.record([Outcome(m.id, MessageStatus.SENT, CHANNEL, "1") for m in claimed], when)
    return len(claimed)


async def test_four_notices_spread_over_two_hours_fall_due_a_half_hour_apart(store: Store, clock) -> None:
    await registered_people(store, clock, 4)
    start = clock()
    started = await broadcasts.start(store, Templates.load(), "notify.announcement", {"text": "по чуть-чуть"},
                                     REGISTERED, start, spread=timedelta(hours=2))
    assert started.people == 4
    assert await due_at(store, start) == 1
    assert await due_at(store, start + timedelta(minutes=29)) == 0
    assert await due_at(store, start + timedelta(minutes=61)) == 2
    assert await due_at(store, start + timedelta(hours=2)) == 1


async def test_a_spread_beyond_three_days_is_refused_before_anything_is_queued(store: Store, clock) -> None:
    await registered_people(store, clock, 2)
    with pytest.raises(BroadcastError, match="up to 72 hours"):
        await broadcasts.start(store, Templates.load(), "notify.announcement", {"text": "x"}, REGISTERED, clock(),
                               spread=timedelta(hours=73))
    async with store.transaction() as tx:
        assert await tx.messages.entries() == []


async def test_the_command_line_spreads_a_broadcast(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "promo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    store = SqlStore(engine)
    await registered_people(store, clock, 3)
    await store.close()
    queued = cli(database, "send", "notify.announcement", "--segment", "registered", "--param", "text=позже",
                 "--spread-hours", "3", "--yes", "--no-follow")
    assert queued.returncode == 0, queued.stderr
    store = SqlStore(engine)
    now = datetime.now(UTC)
    assert await due_at(store, now + timedelta(seconds=5)) == 1  # the first at once, the others an hour apart
    assert await due_at(store, now + timedelta(hours=3, seconds=5)) == 2
    await store.close()
    await engine.dispose()
