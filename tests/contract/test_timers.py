"""Timers: set, moved, cancelled, claimed with a lease, fired once; they follow a person into a merge."""

from __future__ import annotations

from datetime import timedelta

from core.ports import Store
from tests.contract.helpers import NOW, abandon, at, new_person, read

LEASE = timedelta(minutes=1)


async def claim(store: Store, worker: str, when=NOW, dead_before=None, limit=10):  # type: ignore[no-untyped-def]
    return await read(store, lambda tx: tx.timers.claim_due(when, worker, when + LEASE,
                                                            dead_before or when - timedelta(seconds=10), limit))


async def test_a_timer_is_pending_until_due_then_claimed_once_and_fired_once(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.timers.set(person_id, "journey", "nudge", at(hours=1), {"round": 1})
        await tx.workers.beat("w1", at(hours=1))
    (pending,) = await read(store, lambda tx: tx.timers.pending(person_id))
    assert (pending.scenario, pending.name, pending.due_at, pending.data) == ("journey", "nudge", at(hours=1),
                                                                             {"round": 1})
    assert await claim(store, "w1") == []  # not due
    (due,) = await claim(store, "w1", at(hours=1))
    assert due.id == pending.id
    assert await claim(store, "w2", at(hours=1)) == []  # leased to w1, which lives
    assert await read(store, lambda tx: tx.timers.fire(due.id, at(hours=1))) is True
    assert await read(store, lambda tx: tx.timers.fire(due.id, at(hours=1))) is False
    assert await read(store, lambda tx: tx.timers.pending(person_id)) == []


async def test_firing_is_undone_with_its_unit_of_work(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        timer_id = await tx.timers.set(person_id, "journey", "nudge", NOW)
    await abandon(store, lambda tx: tx.timers.fire(timer_id, NOW))
    assert await read(store, lambda tx: tx.timers.fire(timer_id, NOW)) is True


async def test_a_dead_workers_lease_is_taken_over(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.timers.set(person_id, "journey", "nudge", NOW)
        await tx.workers.beat("w1", NOW)
    assert len(await claim(store, "w1")) == 1
    # w1 last beat at NOW; seen from a minute later it is dead, and what it held is free at once
    assert len(await claim(store, "w2", at(minutes=1), dead_before=at(seconds=50))) == 1


async def test_setting_a_timer_again_moves_it_and_cancel_takes_it_away(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.timers.set(person_id, "journey", "nudge", at(hours=1))
        await tx.timers.set(person_id, "journey", "nudge", at(hours=2))
        await tx.timers.set(person_id, "journey", "deadline", at(hours=3))
        await tx.timers.set(person_id, "claim", "deadline", at(hours=4))
    pending = await read(store, lambda tx: tx.timers.pending(person_id))
    assert [(t.scenario, t.name, t.due_at) for t in pending] == [
        ("journey", "nudge", at(hours=2)), ("journey", "deadline", at(hours=3)), ("claim", "deadline", at(hours=4))]
    assert await read(store, lambda tx: tx.timers.cancel(person_id, "journey", "nudge")) == 1
    assert await read(store, lambda tx: tx.timers.cancel(person_id, "journey")) == 1
    assert [t.scenario for t in await read(store, lambda tx: tx.timers.pending(person_id))] == ["claim"]


async def test_timers_follow_a_person_into_a_merge_and_back(store: Store) -> None:
    survivor, absorbed = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        await tx.timers.set(absorbed, "journey", "nudge", at(hours=1))
        moved = await tx.timers.reassign(absorbed, survivor)
    assert [t.name for t in await read(store, lambda tx: tx.timers.pending(survivor))] == ["nudge"]
    async with store.transaction() as tx:
        assert await tx.timers.restore(moved, absorbed) == 1
    assert await read(store, lambda tx: tx.timers.pending(survivor)) == []
    assert len(await read(store, lambda tx: tx.timers.pending(absorbed))) == 1
