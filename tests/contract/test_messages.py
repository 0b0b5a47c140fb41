"""The outbox (claims, leases, outcomes) and the log of what people sent: ``tx.messages``."""

from __future__ import annotations

from datetime import datetime

from core.delivery import MessageStatus
from core.events import EventKind, InboundEvent, OutgoingMessage
from core.ports import Outcome, QueuedMessage, Store
from tests.contract.helpers import NOW, TELEGRAM, VK, abandon, at, new_people, new_person, read

PENDING, SENDING, SENT = MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT
LEASE = at(minutes=2)


def reply(person_id: int, template: str = "common.menu", **extra) -> OutgoingMessage:
    return OutgoingMessage(person_id, template, {"name": "Anna", "items": [1, 2]}, "ru", TELEGRAM, "1001", **extra)


def notice(person_id: int, template: str = "campaign.news") -> OutgoingMessage:
    return OutgoingMessage(person_id, template, {}, "en", bulk=True)


async def enqueue(store: Store, *messages: OutgoingMessage, now: datetime = NOW, owner: str | None = None,
                  lease_until: datetime | None = None) -> list[QueuedMessage]:
    async with store.transaction() as tx:
        queued = [tx.messages.enqueue(m, now, owner=owner, lease_until=lease_until) for m in messages]
    return queued


async def claim(store: Store, owner: str, now: datetime = NOW, *, lease_until: datetime | None = None,
                alive_since: datetime | None = None, limit: int = 10) -> list[QueuedMessage]:
    """What ``owner`` claims at ``now``; it beats first, as a worker does (so it is alive)."""
    async with store.transaction() as tx:
        await tx.workers.beat(owner, now)
        return await tx.messages.claim_due(now, owner, lease_until or now + (LEASE - NOW),
                                           alive_since or now + (at(seconds=-30) - NOW), limit)


async def beat(store: Store, worker_id: str, now: datetime = NOW) -> None:
    async with store.transaction() as tx:
        await tx.workers.beat(worker_id, now)


async def record(store: Store, *outcomes: Outcome, now: datetime = NOW) -> None:
    async with store.transaction() as tx:
        await tx.messages.record(list(outcomes), now)


# queueing ---------------------------------------------------------------------------------------------

async def test_a_queued_message_waits_pending_with_its_id_known_after_commit(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, reply(person_id))
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert queued.id == entry.id > 0
    assert (queued.person_id, queued.channel, queued.account_id, queued.template, queued.params, queued.locale,
            queued.attempts, queued.bulk) == (person_id, TELEGRAM, "1001", "common.menu",
                                              {"name": "Anna", "items": [1, 2]}, "ru", 0, False)
    assert (entry.person_id, entry.channel, entry.account_id, entry.template, entry.params, entry.status,
            entry.attempts, entry.created_at, entry.sent_at, entry.last_error) == (
        person_id, TELEGRAM, "1001", "common.menu", {"name": "Anna", "items": [1, 2]}, PENDING, 0, NOW, None, None)


async def test_entries_list_messages_in_order_per_person_or_template(store: Store) -> None:
    first, second = await new_people(store, 2)
    a, b, c = await enqueue(store, reply(first, "x"), reply(second, "y"), notice(first, "y"))
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries())] == [a.id, b.id, c.id]
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries(person_id=first))] == [a.id, c.id]
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries(template="y"))] == [b.id, c.id]
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries(first, "y"))] == [c.id]


async def test_a_message_queued_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    person_id = await new_person(store)

    async def queue(tx):
        tx.messages.enqueue(reply(person_id), NOW)

    await abandon(store, queue)
    assert await read(store, lambda tx: tx.messages.entries()) == []
    assert await claim(store, "b") == []


async def test_a_message_queued_with_an_owner_is_sending_and_leased_to_it(store: Store) -> None:
    person_id = await new_person(store)
    await beat(store, "a")
    await enqueue(store, reply(person_id), owner="a", lease_until=LEASE)
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert entry.status == SENDING
    await beat(store, "a", at(minutes=1))
    assert await claim(store, "b", at(minutes=1)) == []  # its owner lives and the lease lasts
    [again] = await claim(store, "b", LEASE, alive_since=at(minutes=1))  # the lease ended
    assert again.attempts == 0


async def test_params_are_taken_when_queued(store: Store) -> None:
    person_id = await new_person(store)
    message = reply(person_id)
    async with store.transaction() as tx:
        tx.messages.enqueue(message, NOW)
        message.params["items"].append(3)
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert entry.params == {"name": "Anna", "items": [1, 2]}


async def test_a_queued_message_is_a_copy(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        queued = tx.messages.enqueue(reply(person_id), NOW)
        queued.params["name"] = "Changed"
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert entry.params == {"name": "Anna", "items": [1, 2]}


async def test_claimed_messages_and_entries_are_copies(store: Store) -> None:
    person_id = await new_person(store)
    await enqueue(store, reply(person_id))
    async with store.transaction() as tx:
        [claimed] = await tx.messages.claim_due(NOW, "a", LEASE, at(seconds=-30), 10)
        claimed.params["name"] = "Changed"
        claimed.params["items"].append(3)
        [entry] = await tx.messages.entries()
        entry.params["name"] = "Changed"
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert entry.params == {"name": "Anna", "items": [1, 2]}


# claiming ---------------------------------------------------------------------------------------------

async def test_claim_takes_due_messages_replies_before_bulk_then_oldest_first(store: Store) -> None:
    person_id = await new_person(store)
    n1, r1, n2, r2 = await enqueue(store, notice(person_id), reply(person_id), notice(person_id), reply(person_id))
    claimed = await claim(store, "b")
    assert [m.id for m in claimed] == [r1.id, r2.id, n1.id, n2.id]
    assert [m.bulk for m in claimed] == [False, False, True, True]
    assert claimed[2] == QueuedMessage(n1.id, person_id, None, None, "campaign.news", {}, "en", 0, True)
    assert {e.status for e in await read(store, lambda tx: tx.messages.entries())} == {SENDING}


async def test_claim_takes_at_most_the_limit(store: Store) -> None:
    person_id = await new_person(store)
    n1, r1, r2 = await enqueue(store, notice(person_id), reply(person_id), reply(person_id))
    assert [m.id for m in await claim(store, "b", limit=2)] == [r1.id, r2.id]
    assert [m.id for m in await claim(store, "b", limit=2)] == [n1.id]


async def test_a_message_is_not_claimed_before_it_is_due(store: Store) -> None:
    person_id = await new_person(store)
    await enqueue(store, reply(person_id), now=at(minutes=5))
    assert await claim(store, "b") == []
    assert len(await claim(store, "b", at(minutes=5))) == 1


async def test_a_claimed_message_is_not_claimed_again_while_its_owner_lives_and_the_lease_lasts(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, reply(person_id))
    await beat(store, "a")
    assert [m.id for m in await claim(store, "a", lease_until=at(minutes=2))] == [queued.id]
    await beat(store, "a", at(minutes=1))
    assert await claim(store, "b", at(minutes=1), alive_since=at(seconds=30)) == []
    assert await claim(store, "a", at(minutes=1), alive_since=at(seconds=30)) == []
    # the lease ends even though its owner still beats
    await beat(store, "a", at(minutes=2))
    assert [m.id for m in await claim(store, "b", at(minutes=2), alive_since=at(minutes=1, seconds=30))] == [
        queued.id]


async def test_a_lease_of_a_worker_that_stopped_beating_is_taken_over(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, reply(person_id))
    await beat(store, "a")
    assert len(await claim(store, "a", lease_until=at(minutes=2))) == 1
    # "a" beat at NOW, which is before alive_since: it is dead, though its lease has not ended
    await beat(store, "b", at(seconds=40))
    assert [m.id for m in await claim(store, "b", at(seconds=40), alive_since=at(seconds=10))] == [queued.id]
    assert await claim(store, "c", at(seconds=41), alive_since=at(seconds=10)) == []  # "b" lives


async def test_a_lease_of_a_worker_that_never_beat_is_taken_over(store: Store) -> None:
    person_id = await new_person(store)
    await beat(store, "b")
    [queued] = await enqueue(store, reply(person_id), owner="ghost", lease_until=at(minutes=2))
    assert [m.id for m in await claim(store, "b", at(seconds=1), alive_since=at(seconds=-30))] == [queued.id]


async def test_a_lease_of_a_forgotten_worker_is_taken_over(store: Store) -> None:
    person_id = await new_person(store)
    await beat(store, "a")
    await beat(store, "b")
    [queued] = await enqueue(store, reply(person_id), owner="a", lease_until=at(minutes=2))
    assert await claim(store, "b", at(seconds=1)) == []
    async with store.transaction() as tx:
        await tx.workers.forget("a")
    assert [m.id for m in await claim(store, "b", at(seconds=1))] == [queued.id]


async def test_a_claim_in_an_abandoned_unit_is_undone(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, reply(person_id))
    await beat(store, "a")
    await abandon(store, lambda tx: tx.messages.claim_due(NOW, "a", LEASE, at(seconds=-30), 10))
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert entry.status == PENDING
    assert [m.id for m in await claim(store, "b")] == [queued.id]


# outcomes ----------------------------------------------------------------------------------------------

async def test_a_sent_message_records_when_where_and_the_attempt(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, notice(person_id))
    await claim(store, "a")
    await record(store, Outcome(queued.id, SENT, VK, "2002"), now=at(seconds=3))
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert (entry.status, entry.attempts, entry.sent_at, entry.channel, entry.account_id, entry.last_error) == (
        SENT, 1, at(seconds=3), VK, "2002", None)
    assert await claim(store, "b", at(days=1)) == []


async def test_a_postponed_message_is_due_again_at_its_retry_time_with_the_attempt_counted(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, reply(person_id))
    await beat(store, "a")
    await claim(store, "a", lease_until=at(minutes=10))
    await record(store, Outcome(queued.id, PENDING, error="429 too many", retry_at=at(seconds=30)))
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert (entry.status, entry.attempts, entry.last_error, entry.sent_at) == (PENDING, 1, "429 too many", None)
    await beat(store, "a", at(seconds=29))
    assert await claim(store, "b", at(seconds=29), alive_since=at(seconds=0)) == []
    # due again although the first lease would still last and its worker lives: the outcome ended the lease
    [again] = await claim(store, "b", at(seconds=30), alive_since=at(seconds=0))
    assert (again.id, again.attempts) == (queued.id, 1)
    await record(store, Outcome(queued.id, SENT, TELEGRAM, "1001"), now=at(seconds=31))
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert (entry.status, entry.attempts, entry.last_error) == (SENT, 2, None)


async def test_final_outcomes_are_never_claimed_again(store: Store) -> None:
    person_id = await new_person(store)
    queued = await enqueue(store, reply(person_id), reply(person_id), reply(person_id))
    await claim(store, "a")
    final = (MessageStatus.FAILED, MessageStatus.UNREACHABLE, MessageStatus.UNDELIVERABLE)
    await record(store, *(Outcome(m.id, status, error=f"{status} reason") for m, status in zip(queued, final,
                                                                                           strict=True)))
    entries = await read(store, lambda tx: tx.messages.entries())
    assert [(e.status, e.attempts, e.last_error, e.sent_at) for e in entries] == [
        (status, 1, f"{status} reason", None) for status in final]
    assert await claim(store, "b", at(days=1), alive_since=at(days=1)) == []


async def test_outcomes_recorded_in_an_abandoned_unit_are_undone(store: Store) -> None:
    person_id = await new_person(store)
    [queued] = await enqueue(store, reply(person_id))
    await claim(store, "a")
    await abandon(store, lambda tx: tx.messages.record([Outcome(queued.id, SENT, TELEGRAM, "1001")], NOW))
    [entry] = await read(store, lambda tx: tx.messages.entries())
    assert (entry.status, entry.attempts, entry.sent_at) == (SENDING, 0, None)


# the log of what people sent ------------------------------------------------------------------------------

async def test_inbound_messages_are_logged_in_order_without_photo_bytes(store: Store) -> None:
    person_id, other_id = await new_people(store, 2)
    text = InboundEvent.from_text(TELEGRAM, "1001", "hello")
    photo = InboundEvent(VK, "2002", EventKind.PHOTO, photo=b"\xff" * 10)
    long = InboundEvent.from_text(TELEGRAM, "1001", "y" * 5000)
    async with store.transaction() as tx:
        await tx.messages.log_inbound(person_id, text, NOW)
        await tx.messages.log_inbound(other_id, text, NOW)
        await tx.messages.log_inbound(person_id, photo, at(seconds=1))
        await tx.messages.log_inbound(person_id, long, at(seconds=2))
    logged = await read(store, lambda tx: tx.messages.inbound(person_id))
    assert [(m.person_id, m.channel, m.account_id, m.kind, m.body, m.created_at) for m in logged] == [
        (person_id, TELEGRAM, "1001", "text", "hello", NOW),
        (person_id, VK, "2002", "photo", "[photo 10 bytes]", at(seconds=1)),
        (person_id, TELEGRAM, "1001", "text", "y" * 4000, at(seconds=2))]
    assert await read(store, lambda tx: tx.messages.inbound(999_999)) == []


async def test_a_log_entry_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    person_id = await new_person(store)
    await abandon(store, lambda tx: tx.messages.log_inbound(person_id, InboundEvent.from_text(TELEGRAM, "1", "hi"),
                                                            NOW))
    assert await read(store, lambda tx: tx.messages.inbound(person_id)) == []


# merging --------------------------------------------------------------------------------------------------

async def test_reassign_moves_outbox_and_log_and_restore_moves_exactly_them_back(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    kept, mine, also_mine = await enqueue(store, reply(survivor_id), reply(absorbed_id), notice(absorbed_id))
    async with store.transaction() as tx:
        await tx.messages.log_inbound(absorbed_id, InboundEvent.from_text(TELEGRAM, "1", "hi"), NOW)
        await tx.messages.log_inbound(survivor_id, InboundEvent.from_text(TELEGRAM, "2", "yo"), NOW)
    async with store.transaction() as tx:
        moved = await tx.messages.reassign(absorbed_id, survivor_id)
    assert set(moved) == {"outbox", "message_log"}
    assert sorted(moved["outbox"]) == [mine.id, also_mine.id]
    assert len(moved["message_log"]) == 1
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries(survivor_id))] == [
        kept.id, mine.id, also_mine.id]
    assert [m.body for m in await read(store, lambda tx: tx.messages.inbound(survivor_id))] == ["hi", "yo"]

    [later] = await enqueue(store, reply(survivor_id))
    async with store.transaction() as tx:
        assert await tx.messages.restore({**moved, "payouts": [1]}, absorbed_id) == 3
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries(absorbed_id))] == [mine.id, also_mine.id]
    assert [e.id for e in await read(store, lambda tx: tx.messages.entries(survivor_id))] == [kept.id, later.id]
    assert [m.body for m in await read(store, lambda tx: tx.messages.inbound(absorbed_id))] == ["hi"]
    assert [m.body for m in await read(store, lambda tx: tx.messages.inbound(survivor_id))] == ["yo"]


async def test_reassign_of_a_person_without_messages_moves_nothing(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    await enqueue(store, reply(survivor_id))
    async with store.transaction() as tx:
        assert await tx.messages.reassign(absorbed_id, survivor_id) == {}
