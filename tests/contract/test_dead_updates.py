"""Dead updates: given up on, kept with their error, neither processed nor claimed, until revived: ``tx.inbox``."""

from __future__ import annotations

from core.ports import NewUpdate, Store
from core.ports.inbox import DeadUpdate
from tests.contract.helpers import NOW, abandon, at, read
from tests.contract.test_inbox import BOT, add, beat, claim, update


async def _dead(store: Store) -> list[DeadUpdate]:
    return await read(store, lambda tx: tx.inbox.dead(10))


async def test_a_buried_update_is_kept_with_its_error_and_nobody_claims_it(store: Store) -> None:
    [entry] = await add(store, update("1"), owner="ghost")
    async with store.transaction() as tx:
        await tx.inbox.fail(entry.id, "first", at(seconds=1))
        assert await tx.inbox.bury(entry.id, "UnicodeEncodeError('surrogates not allowed')", at(seconds=2)) is True
    assert await _dead(store) == [DeadUpdate(entry.id, BOT, "1", "1001", update("1").raw, 2,
                                             "UnicodeEncodeError('surrogates not allowed')", NOW, at(seconds=2))]
    assert await read(store, lambda tx: tx.inbox.dead_count()) == 1
    assert await read(store, lambda tx: tx.inbox.pending()) == 0
    assert await claim(store, "b", at(days=1), alive_since=at(days=1)) == []  # the ghost's lease is no hold
    async with store.transaction() as tx:
        assert await tx.inbox.finish(entry.id, at(seconds=3)) is False  # not applied while set aside
        assert await tx.inbox.bury(entry.id, "again", at(seconds=3)) is False
        assert await tx.inbox.purge(at(days=30)) == 0  # kept: it was never processed
    assert await add(store, update("1")) == [None]  # a redelivery stays a redelivery


async def test_a_processed_update_cannot_be_buried(store: Store) -> None:
    [entry] = await add(store, update("1"))
    async with store.transaction() as tx:
        await tx.inbox.finish(entry.id, NOW)
        assert await tx.inbox.bury(entry.id, "late", NOW) is False
    assert await _dead(store) == []


async def test_revive_puts_a_dead_update_back_due_now_with_no_attempts(store: Store) -> None:
    await beat(store, "a", NOW)
    first, second = await add(store, update("1"), update("2"), lease_until=at(minutes=10))
    async with store.transaction() as tx:
        await tx.inbox.bury(first.id, "boom", at(seconds=1))
        await tx.inbox.bury(second.id, "boom", at(seconds=2))
        assert await tx.inbox.revive(first.id, at(minutes=1)) is True
        assert await tx.inbox.revive(first.id, at(minutes=1)) is False  # not dead any more
    assert [d.id for d in await _dead(store)] == [second.id]
    await beat(store, "a", at(minutes=1))
    [again] = await claim(store, "b", at(minutes=1))  # "a" lives: only the revived one is due
    assert (again.id, again.attempts, again.raw) == (first.id, 0, update("1").raw)
    async with store.transaction() as tx:
        assert await tx.inbox.finish(first.id, at(minutes=2)) is True
        assert await tx.inbox.revive(first.id, at(minutes=3)) is False  # processed: nothing to revive
        assert await tx.inbox.revive(10_000, at(minutes=3)) is False


async def test_the_latest_to_die_is_listed_first(store: Store) -> None:
    entries = await add(store, update("1"), update("2"), update("3"))
    async with store.transaction() as tx:
        for entry, seconds in zip(entries, (5, 1, 3), strict=True):
            await tx.inbox.bury(entry.id, f"after {seconds}", at(seconds=seconds))
    assert [d.update_id for d in await _dead(store)] == ["1", "3", "2"]
    assert [d.update_id for d in await read(store, lambda tx: tx.inbox.dead(2))] == ["1", "3"]


async def test_a_bury_and_a_revive_in_an_abandoned_unit_are_undone(store: Store) -> None:
    [entry] = await add(store, update("1"))
    await abandon(store, lambda tx: tx.inbox.bury(entry.id, "boom", NOW))
    assert await _dead(store) == [] and await read(store, lambda tx: tx.inbox.pending()) == 1
    async with store.transaction() as tx:
        await tx.inbox.bury(entry.id, "boom", NOW)
    await abandon(store, lambda tx: tx.inbox.revive(entry.id, NOW))
    assert [d.id for d in await _dead(store)] == [entry.id]


async def test_ids_from_outside_are_stored_as_valid_text(store: Store) -> None:
    """A lone surrogate (valid JSON) in an id would fail every insert of the batch it came in."""
    [entry] = await add(store, NewUpdate("wamid.\ud800", "7\udc00", {"text": "\ud800"}))
    assert (entry.update_id, entry.account_id) == ("wamid.\ufffd", "7\ufffd")
    [claimed] = await claim(store, "b", at(minutes=5), alive_since=at(minutes=5))
    assert (claimed.update_id, claimed.account_id, claimed.raw) == ("wamid.\ufffd", "7\ufffd", {"text": "\ud800"})
