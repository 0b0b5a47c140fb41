"""The durable intake: updates stored before they are acknowledged, their leases, cursors and purging: ``tx.inbox``."""

from __future__ import annotations

from datetime import datetime

from core.ports import InboxEntry, NewUpdate, Store
from tests.contract.helpers import NOW, abandon, at, read

BOT = "telegram:promo_bot"
OTHER_BOT = "vk:club1"
LEASE = at(minutes=2)


def update(update_id: str, account_id: str | None = "1001") -> NewUpdate:
    return NewUpdate(update_id, account_id, {"update_id": update_id, "message": {"text": "hi", "ids": [1, 2]}})


async def add(store: Store, *updates: NewUpdate, bot: str = BOT, owner: str = "a", now: datetime = NOW,
              lease_until: datetime = LEASE) -> list[InboxEntry | None]:
    async with store.transaction() as tx:
        return await tx.inbox.add(bot, list(updates), owner, now, lease_until=lease_until)


async def claim(store: Store, owner: str, now: datetime = NOW, *, alive_since: datetime | None = None,
                lease_until: datetime | None = None, limit: int = 10) -> list[InboxEntry]:
    """What ``owner`` claims at ``now``; it beats first, as a worker does (so it is alive)."""
    async with store.transaction() as tx:
        await tx.workers.beat(owner, now)
        return await tx.inbox.claim_stale(now, owner, alive_since or now + (at(seconds=-30) - NOW), limit,
                                          lease_until=lease_until or now + (LEASE - NOW))


async def beat(store: Store, worker_id: str, now: datetime) -> None:
    async with store.transaction() as tx:
        await tx.workers.beat(worker_id, now)


async def test_new_updates_are_stored_and_given_back_leased_to_the_receiver(store: Store) -> None:
    await beat(store, "a", NOW)
    first, second = await add(store, update("1"), update("2", None))
    assert first == InboxEntry(first.id, BOT, "1", "1001", update("1").raw, 0)
    assert second == InboxEntry(second.id, BOT, "2", None, update("2", None).raw, 0)
    assert 0 < first.id < second.id
    assert await read(store, lambda tx: tx.inbox.pending()) == 2
    assert await claim(store, "b", at(seconds=10)) == []  # "a" lives and holds them


async def test_a_redelivered_update_is_none_in_its_place(store: Store) -> None:
    await add(store, update("1"))
    again, new = await add(store, update("1"), update("2"))
    assert again is None and new is not None and new.update_id == "2"
    assert await read(store, lambda tx: tx.inbox.pending()) == 2


async def test_an_update_twice_in_one_batch_is_stored_once(store: Store) -> None:
    first, again = await add(store, update("1"), update("1"))
    assert first is not None and first.update_id == "1" and again is None
    assert await read(store, lambda tx: tx.inbox.pending()) == 1


async def test_update_ids_are_per_bot(store: Store) -> None:
    await add(store, update("1"))
    [other] = await add(store, update("1"), bot=OTHER_BOT)
    assert other is not None and other.bot == OTHER_BOT
    assert await read(store, lambda tx: tx.inbox.pending()) == 2


async def test_updates_added_in_an_abandoned_unit_are_not_kept(store: Store) -> None:
    await abandon(store, lambda tx: tx.inbox.add(BOT, [update("1")], "a", NOW, lease_until=LEASE))
    assert await read(store, lambda tx: tx.inbox.pending()) == 0
    [entry] = await add(store, update("1"))
    assert entry is not None


async def test_returned_entries_are_copies(store: Store) -> None:
    [entry] = await add(store, update("1"), owner="gone")
    assert entry is not None
    entry.raw["message"]["text"] = "changed"
    [claimed] = await claim(store, "b")
    assert claimed.raw == update("1").raw


# applying updates -------------------------------------------------------------------------------------

async def test_finish_marks_an_update_processed_once(store: Store) -> None:
    [entry] = await add(store, update("1"))
    async with store.transaction() as tx:
        assert await tx.inbox.finish(entry.id, at(seconds=1)) is True
    async with store.transaction() as tx:
        assert await tx.inbox.finish(entry.id, at(seconds=2)) is False
    assert await read(store, lambda tx: tx.inbox.pending()) == 0
    assert await claim(store, "b", at(days=1), alive_since=at(days=1)) == []
    assert await add(store, update("1")) == [None]  # still known: a redelivery


async def test_a_finish_in_an_abandoned_unit_is_undone(store: Store) -> None:
    [entry] = await add(store, update("1"))
    await abandon(store, lambda tx: tx.inbox.finish(entry.id, NOW))
    assert await read(store, lambda tx: tx.inbox.pending()) == 1
    async with store.transaction() as tx:
        assert await tx.inbox.finish(entry.id, NOW) is True


async def test_claim_update_records_an_update_applied_directly_once(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.inbox.claim_update(BOT, "1", NOW) is True
        assert await tx.inbox.claim_update(BOT, "1", NOW) is False
    async with store.transaction() as tx:
        assert await tx.inbox.claim_update(BOT, "1", NOW) is False
        assert await tx.inbox.claim_update(OTHER_BOT, "1", NOW) is True
    assert await read(store, lambda tx: tx.inbox.pending()) == 0
    assert await add(store, update("1")) == [None]
    assert await claim(store, "b", at(days=1), alive_since=at(days=1)) == []


async def test_claim_update_of_a_stored_update_is_false(store: Store) -> None:
    await add(store, update("1"))
    async with store.transaction() as tx:
        assert await tx.inbox.claim_update(BOT, "1", NOW) is False
    assert await read(store, lambda tx: tx.inbox.pending()) == 1


async def test_a_claim_update_in_an_abandoned_unit_is_undone(store: Store) -> None:
    await abandon(store, lambda tx: tx.inbox.claim_update(BOT, "1", NOW))
    async with store.transaction() as tx:
        assert await tx.inbox.claim_update(BOT, "1", NOW) is True


async def test_a_failed_update_is_unowned_and_due_again_at_its_retry_time(store: Store) -> None:
    await beat(store, "a", NOW)
    [entry] = await add(store, update("1"), lease_until=at(minutes=10))
    async with store.transaction() as tx:
        await tx.inbox.fail(entry.id, "database away", at(seconds=30))
    await beat(store, "a", at(seconds=29))
    assert await claim(store, "b", at(seconds=29)) == []
    [again] = await claim(store, "b", at(seconds=30))  # "a" still lives, but gave it up
    assert (again.id, again.attempts, again.raw) == (entry.id, 1, update("1").raw)
    async with store.transaction() as tx:
        await tx.inbox.fail(entry.id, "database away", at(seconds=40))
    [third] = await claim(store, "c", at(seconds=40))
    assert third.attempts == 2


# taking over ------------------------------------------------------------------------------------------

async def test_claim_stale_takes_updates_of_workers_that_stopped_beating_oldest_first(store: Store) -> None:
    await beat(store, "a", NOW)
    first, second, third = await add(store, update("1"), update("2"), update("3"), owner="a",
                                     lease_until=at(minutes=10))
    await beat(store, "live", NOW)
    [kept] = await add(store, update("4"), owner="live", lease_until=at(minutes=10))
    await beat(store, "live", at(minutes=1))
    # "a" last beat at NOW, before alive_since
    claimed = await claim(store, "b", at(minutes=1), alive_since=at(seconds=30), limit=2)
    assert [e.id for e in claimed] == [first.id, second.id]
    assert claimed[0] == first
    claimed = await claim(store, "b", at(minutes=1), alive_since=at(seconds=30))
    assert [e.id for e in claimed] == [third.id]
    # now leased to the live "b": nobody takes them
    assert await claim(store, "c", at(minutes=1, seconds=10), alive_since=at(seconds=40)) == []
    assert kept is not None


async def test_claim_stale_takes_updates_of_a_worker_that_never_beat_or_was_forgotten(store: Store) -> None:
    [ghost] = await add(store, update("1"), owner="ghost")
    await beat(store, "gone", NOW)
    [gone] = await add(store, update("2"), owner="gone")
    async with store.transaction() as tx:
        await tx.workers.forget("gone")
    assert [e.id for e in await claim(store, "b", at(seconds=1))] == [ghost.id, gone.id]


async def test_a_lease_past_its_end_is_taken_even_from_a_live_worker(store: Store) -> None:
    await beat(store, "a", NOW)
    [entry] = await add(store, update("1"), lease_until=at(minutes=2))
    await beat(store, "a", at(minutes=1, seconds=59))
    assert await claim(store, "b", at(minutes=1, seconds=59)) == []
    await beat(store, "a", at(minutes=2))
    assert [e.id for e in await claim(store, "b", at(minutes=2))] == [entry.id]


async def test_a_claim_in_an_abandoned_unit_is_undone(store: Store) -> None:
    [entry] = await add(store, update("1"), owner="ghost")
    await abandon(store, lambda tx: tx.inbox.claim_stale(NOW, "b", at(seconds=-30), 10, lease_until=LEASE))
    assert [e.id for e in await claim(store, "c")] == [entry.id]


# cursors and purging ----------------------------------------------------------------------------------

async def test_each_bot_keeps_its_own_cursor(store: Store) -> None:
    assert await read(store, lambda tx: tx.inbox.cursor(BOT)) is None
    async with store.transaction() as tx:
        await tx.inbox.save_cursor(BOT, "100")
        await tx.inbox.save_cursor(OTHER_BOT, "7")
    async with store.transaction() as tx:
        await tx.inbox.save_cursor(BOT, "101")
    assert await read(store, lambda tx: tx.inbox.cursor(BOT)) == "101"
    assert await read(store, lambda tx: tx.inbox.cursor(OTHER_BOT)) == "7"


async def test_a_cursor_saved_in_an_abandoned_unit_is_undone(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.inbox.save_cursor(BOT, "100")

    async def fetch(tx):
        await tx.inbox.add(BOT, [update("1")], "a", NOW, lease_until=LEASE)
        await tx.inbox.save_cursor(BOT, "101")
        await tx.inbox.save_cursor(OTHER_BOT, "1")

    await abandon(store, fetch)
    assert await read(store, lambda tx: tx.inbox.cursor(BOT)) == "100"
    assert await read(store, lambda tx: tx.inbox.cursor(OTHER_BOT)) is None


async def test_purge_forgets_processed_updates_received_before_the_time_given(store: Store) -> None:
    old, _pending = await add(store, update("1"), update("2"), now=at(days=-8))
    [recent] = await add(store, update("3"), now=at(days=-1))
    async with store.transaction() as tx:
        await tx.inbox.finish(old.id, at(days=-8))
        await tx.inbox.finish(recent.id, at(days=-1))
        await tx.inbox.claim_update(BOT, "4", at(days=-9))
        await tx.inbox.claim_update(BOT, "5", at(days=-7))
    async with store.transaction() as tx:
        assert await tx.inbox.purge(at(days=-7)) == 2  # "1" and "4"; "5" came exactly at the bound
    assert await read(store, lambda tx: tx.inbox.pending()) == 1
    readded = await add(store, update("1"), update("2"), update("3"), update("4"), update("5"))
    assert [entry is not None for entry in readded] == [True, False, False, True, False]
    async with store.transaction() as tx:
        assert await tx.inbox.purge(at(days=-7)) == 0


async def test_a_purge_in_an_abandoned_unit_is_undone(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.inbox.claim_update(BOT, "1", NOW)
    assert await abandon(store, lambda tx: tx.inbox.purge(at(days=1))) == 1
    assert await add(store, update("1")) == [None]
