"""A draw cancelled while the keeper (another process) freezes its list: the freeze read the draw as scheduled, the
cancel committed, and the freeze's save, which writes the whole draw it read, must not put it back to scheduled.

The two units of work are interleaved by hand: on PostgreSQL the freeze's transaction stays open while the cancel
commits in another one; SQLite (BEGIN IMMEDIATE, one writer) and the memory store cannot hold two writers at once,
so there the freeze goes on from the draw it read before the cancel, which is what it would hold then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from core import campaigns, draws
from core.draws import rescheduling
from core.errors import ConflictError
from core.ports import Store
from core.ports.draws import Draw, DrawStatus
from storage.sql import SqlStore
from tests.test_draw_freezing import AUTUMN, CLOSE, SEAL


async def _scheduled(store: Store) -> Draw:
    async with store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, datetime(2023, 9, 13, 9, 0, tzinfo=UTC))
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, datetime(2023, 9, 13, 9, 0, tzinfo=UTC),
                                              SEAL)).draws
    return week


async def _freeze_with(store: Store, draw_id: int, now: datetime,
                       meanwhile: Callable[[], Awaitable[object]]) -> Draw:
    """``freeze_list`` with ``meanwhile`` committed in its own unit of work once the freeze has read the draw."""
    concurrent = isinstance(store, SqlStore) and not store.single_process
    stale = None
    if not concurrent:
        async with store.transaction() as tx:
            stale = await tx.draws.get(draw_id)
        await meanwhile()
    async with store.transaction() as tx:
        read = tx.draws.get
        first = True

        async def get(wanted: int) -> Draw:
            nonlocal first
            if not first or wanted != draw_id:
                return await read(wanted)
            first = False
            if stale is not None:
                return stale
            found = await read(wanted)
            await meanwhile()  # another connection: commits while this transaction is open
            return found

        tx.draws.get = get  # type: ignore[method-assign]
        return await draws.freeze_list(tx, draw_id, now)


async def test_a_freeze_does_not_undo_a_cancel_committed_after_it_read_the_draw(store: Store) -> None:
    week = await _scheduled(store)

    async def cancel() -> None:
        async with store.transaction() as tx:  # the manager, just before the close by their clock
            await rescheduling.cancel(tx, week.id, "акция сокращена", None, CLOSE - timedelta(seconds=1))

    with pytest.raises(ConflictError):
        await _freeze_with(store, week.id, CLOSE + timedelta(seconds=20), cancel)
    async with store.transaction() as tx:
        kept = await tx.draws.get(week.id)
        assert kept.status is DrawStatus.CANCELLED and kept.frozen_at is None and kept.entries_hash is None
        assert await tx.draws.entry_list(week.id) is None and await tx.draws.entrants(week.id) == []
        (change,) = await tx.draws.changes(week.id)
        assert change.cancelled and change.reason == "акция сокращена"
        assert week.id not in [d.id for d in await tx.draws.scheduled()]  # the keeper leaves it alone


async def test_a_freeze_keeps_a_move_committed_after_it_read_the_draw(store: Store) -> None:
    week = await _scheduled(store)
    later = week.draw_at + timedelta(days=2)

    async def move() -> None:
        async with store.transaction() as tx:
            await rescheduling.move(tx, week.id, later, "призы задерживаются", None, CLOSE - timedelta(seconds=1))

    frozen = await _freeze_with(store, week.id, CLOSE + timedelta(seconds=20), move)
    assert frozen.frozen_at is not None
    async with store.transaction() as tx:
        kept = await tx.draws.get(week.id)
        assert kept.status is DrawStatus.SCHEDULED and kept.draw_at == later  # the move stands, the list is frozen
        assert kept.entries_hash == frozen.entries_hash and await tx.draws.entry_list(week.id) is not None
