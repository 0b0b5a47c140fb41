"""Worker heartbeats, seen through the leases they protect: ``tx.workers``.

The port has no read of its own: a worker is alive exactly when its leases (here, inbox
entries) are honoured, and dead when another worker may take them over.
"""

from __future__ import annotations

from datetime import datetime

from core.ports import NewUpdate, Store
from tests.contract.helpers import NOW, abandon, at

BOT = "telegram:promo_bot"
LEASE_END = at(hours=1)  # long: in these tests only liveness decides


async def beat(store: Store, worker_id: str, now: datetime = NOW) -> None:
    async with store.transaction() as tx:
        await tx.workers.beat(worker_id, now)


async def lease_to(store: Store, worker_id: str, update_id: str) -> int:
    async with store.transaction() as tx:
        [entry] = await tx.inbox.add(BOT, [NewUpdate(update_id, None, {})], worker_id, NOW, lease_until=LEASE_END)
    assert entry is not None
    return entry.id


async def taken_over(store: Store, now: datetime, alive_since: datetime) -> list[int]:
    """What a fresh worker takes over at ``now`` from workers not seen since ``alive_since``."""
    async with store.transaction() as tx:
        return [e.id for e in await tx.inbox.claim_stale(now, "rescuer", alive_since, 100, lease_until=LEASE_END)]


async def test_a_worker_is_alive_from_its_latest_beat(store: Store) -> None:
    await beat(store, "a", NOW)
    entry_id = await lease_to(store, "a", "1")
    await beat(store, "a", at(minutes=1))
    assert await taken_over(store, at(minutes=1), alive_since=at(minutes=1)) == []
    assert await taken_over(store, at(minutes=2), alive_since=at(minutes=1, seconds=1)) == [entry_id]


async def test_a_forgotten_worker_is_dead(store: Store) -> None:
    await beat(store, "a")
    await beat(store, "b")
    a_entry = await lease_to(store, "a", "1")
    await lease_to(store, "b", "2")
    async with store.transaction() as tx:
        await tx.workers.forget("a")
        await tx.workers.forget("never-seen")
    assert await taken_over(store, NOW, alive_since=NOW) == [a_entry]


async def test_forget_others_forgets_every_other_worker_and_counts_them(store: Store) -> None:
    for worker_id in ("a", "b", "c"):
        await beat(store, worker_id)
    kept = await lease_to(store, "a", "1")
    b_entry = await lease_to(store, "b", "2")
    c_entry = await lease_to(store, "c", "3")
    async with store.transaction() as tx:
        assert await tx.workers.forget_others("a") == 2
    assert await taken_over(store, NOW, alive_since=NOW) == [b_entry, c_entry]
    async with store.transaction() as tx:
        assert await tx.workers.forget_others("a") == 0
    assert kept not in await taken_over(store, NOW, alive_since=NOW)


async def test_forget_others_of_a_worker_that_never_beat_forgets_everyone(store: Store) -> None:
    await beat(store, "a")
    async with store.transaction() as tx:
        assert await tx.workers.forget_others("new") == 1


async def test_a_beat_in_an_abandoned_unit_is_undone(store: Store) -> None:
    await beat(store, "a", NOW)
    entry_id = await lease_to(store, "a", "1")
    await abandon(store, lambda tx: tx.workers.beat("a", at(minutes=1)))
    assert await taken_over(store, at(minutes=1), alive_since=at(seconds=30)) == [entry_id]


async def test_a_forget_in_an_abandoned_unit_is_undone(store: Store) -> None:
    await beat(store, "a")
    await beat(store, "b")
    await lease_to(store, "a", "1")
    await lease_to(store, "b", "2")

    async def forget(tx):
        await tx.workers.forget("a")
        return await tx.workers.forget_others("a")

    assert await abandon(store, forget) == 1
    assert await taken_over(store, NOW, alive_since=NOW) == []
