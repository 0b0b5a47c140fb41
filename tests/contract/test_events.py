"""Domain events as stored: with their unit of work or not at all, in order, each consumer's position its own."""

from __future__ import annotations

import pytest

from core.domain_events import EventShapeError, Happened, event
from core.ports import Store
from core.ports.events import START
from tests.contract.helpers import NOW, abandon, at, new_person, read


def registered(person_id: int, when=NOW):  # type: ignore[no-untyped-def]
    return event(Happened.PERSON_REGISTERED, person_id, when, channel="telegram", source=None)


async def test_events_are_stored_with_their_unit_of_work_and_read_back_in_order(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        tx.events.add(registered(person_id))
        tx.events.add(event(Happened.CASHBACK_PAID, person_id, at(seconds=1), payout_id=7, amount_kopecks=12_345))
        assert [e.kind for e in tx.events.added] == [Happened.PERSON_REGISTERED, Happened.CASHBACK_PAID]
    stored = await read(store, lambda tx: tx.events.after(START, 10))
    assert [(e.kind, e.person_id, dict(e.data)) for _, e in stored] == [
        (Happened.PERSON_REGISTERED, person_id, {"channel": "telegram", "source": None}),
        (Happened.CASHBACK_PAID, person_id, {"payout_id": 7, "amount_kopecks": 12_345})]
    assert stored[0][0] < stored[1][0] and stored[0][1].id < stored[1][1].id
    assert [e.occurred_at for _, e in stored] == [NOW, at(seconds=1)]


async def test_a_rolled_back_unit_of_work_leaves_no_event(store: Store) -> None:
    person_id = await new_person(store)
    async def add(tx):  # type: ignore[no-untyped-def]
        tx.events.add(registered(person_id))

    await abandon(store, add)
    assert await read(store, lambda tx: tx.events.after(START, 10)) == []


async def test_after_reads_past_a_position_by_kind_and_in_pages(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        for n in range(5):
            tx.events.add(registered(person_id, at(seconds=n)))
            tx.events.add(event(Happened.TICKET_CLOSED, person_id, at(seconds=n), ticket_id=n, by="staff"))
    first = await read(store, lambda tx: tx.events.after(START, 2, ["person.registered"]))
    assert [e.kind for _, e in first] == [Happened.PERSON_REGISTERED] * 2
    rest = await read(store, lambda tx: tx.events.after(first[-1][0], 10, ["person.registered"]))
    assert len(rest) == 3 and rest[0][0] > first[-1][0]
    assert len(await read(store, lambda tx: tx.events.after(START, 100))) == 10


async def test_a_consumer_position_moves_only_with_its_unit_of_work(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        tx.events.add(registered(person_id))
    (where, _), = await read(store, lambda tx: tx.events.after(START, 10))
    assert await read(store, lambda tx: tx.events.hold("journeys")) == START

    async def move(tx):  # type: ignore[no-untyped-def]
        assert await tx.events.hold("journeys") == START
        await tx.events.advance("journeys", where)

    await abandon(store, move)
    assert await read(store, lambda tx: tx.events.hold("journeys")) == START
    async with store.transaction() as tx:
        await move(tx)
    assert await read(store, lambda tx: tx.events.hold("journeys")) == where
    assert await read(store, lambda tx: tx.events.hold("webhooks")) == START  # each consumer its own


async def test_a_persons_events_newest_first(store: Store) -> None:
    person_id, other = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        tx.events.add(registered(person_id))
        tx.events.add(registered(other))
        tx.events.add(event(Happened.TICKET_OPENED, person_id, at(minutes=1), ticket_id=3, channel="vk"))
    mine = await read(store, lambda tx: tx.events.of_person(person_id))
    assert [e.kind for e in mine] == [Happened.TICKET_OPENED, Happened.PERSON_REGISTERED]


def test_an_event_of_the_wrong_shape_is_refused_before_it_is_stored() -> None:
    with pytest.raises(EventShapeError, match="missing \\['source'\\]"):
        event(Happened.PERSON_REGISTERED, 1, NOW, channel="telegram")
