"""Support tickets: one person's requests across channels, the queue staff work from, merges and erasure."""

from __future__ import annotations

import pytest

from core.errors import ConflictError
from core.ports import Store
from core.ports.personal_data import ERASED, ErasureSubject
from core.ports.staff import StaffRole
from core.ports.tickets import QueueFilter, TicketEventKind, TicketStatus
from tests.contract.helpers import NOW, TELEGRAM, VK, at, new_people, new_person, read

CAMPAIGN = "promo"


async def test_a_ticket_opens_new_and_keeps_what_was_said_in_order(store: Store) -> None:
    person = await new_person(store)
    async with store.transaction() as tx:
        ticket = await tx.tickets.open(person, CAMPAIGN, TELEGRAM, "1001", "Не пришёл кешбэк", NOW)
        await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, NOW, body="Не пришёл кешбэк")
        await tx.tickets.add_event(ticket.id, TicketEventKind.NOTE, at(minutes=1), body="проверить чек", staff_id=None)
    stored = await read(store, lambda tx: tx.tickets.get(ticket.id))
    assert stored.status is TicketStatus.NEW and stored.channel == TELEGRAM and stored.account_id == "1001"
    assert stored.last_person_at == NOW and stored.version == 1
    events = await read(store, lambda tx: tx.tickets.events(ticket.id))
    assert [(e.kind, e.body, e.person_id) for e in events] == [
        (TicketEventKind.PERSON, "Не пришёл кешбэк", person), (TicketEventKind.NOTE, "проверить чек", person)]


async def test_a_save_on_a_stale_version_conflicts(store: Store) -> None:
    person = await new_person(store)
    async with store.transaction() as tx:
        ticket = await tx.tickets.open(person, CAMPAIGN, TELEGRAM, "1", "x", NOW)
    first = await read(store, lambda tx: tx.tickets.get(ticket.id))
    second = await read(store, lambda tx: tx.tickets.get(ticket.id))
    async with store.transaction() as tx:
        first.status = TicketStatus.WAITING
        await tx.tickets.save(first)
    assert first.version == 2
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            second.status = TicketStatus.CLOSED
            await tx.tickets.save(second)
    assert (await read(store, lambda tx: tx.tickets.get(ticket.id))).status is TicketStatus.WAITING


async def test_one_persons_tickets_are_one_list_whatever_the_channel(store: Store) -> None:
    person, other = await new_people(store, 2)
    async with store.transaction() as tx:
        old = await tx.tickets.open(person, CAMPAIGN, TELEGRAM, "1", "first", NOW)
        old.status, old.closed_at = TicketStatus.CLOSED, at(minutes=5)
        await tx.tickets.save(old)
        new = await tx.tickets.open(person, CAMPAIGN, VK, "2", "second", at(hours=1))
        await tx.tickets.open(other, CAMPAIGN, TELEGRAM, "3", "someone else's", NOW)
    assert [t.id for t in await read(store, lambda tx: tx.tickets.of_person(person))] == [new.id, old.id]
    assert (await read(store, lambda tx: tx.tickets.current_of(person))).id == new.id


async def test_the_queue_puts_the_longest_waiting_first_and_filters(store: Store) -> None:
    a, b, c = await new_people(store, 3)
    async with store.transaction() as tx:
        staff = await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, "hash", NOW)
        late = await tx.tickets.open(a, CAMPAIGN, TELEGRAM, "1", "late", at(hours=2))
        early = await tx.tickets.open(b, "other", VK, "2", "early", at(hours=1))
        closed = await tx.tickets.open(c, CAMPAIGN, VK, "3", "closed", NOW)
        closed.status = TicketStatus.CLOSED
        await tx.tickets.save(closed)
        late.assigned_to = staff.id
        await tx.tickets.save(late)
    queue = await read(store, lambda tx: tx.tickets.queue(QueueFilter()))
    assert [row.ticket.id for row in queue] == [early.id, late.id]
    mine = await read(store, lambda tx: tx.tickets.queue(QueueFilter(assigned_to=staff.id)))
    nobodys = await read(store, lambda tx: tx.tickets.queue(QueueFilter(assigned_to=0)))
    campaign = await read(store, lambda tx: tx.tickets.queue(QueueFilter(campaign="other")))
    done = await read(store, lambda tx: tx.tickets.queue(QueueFilter(statuses=(TicketStatus.CLOSED,))))
    assert [r.ticket.id for r in mine] == [late.id] and [r.ticket.id for r in nobodys] == [early.id]
    assert [r.ticket.id for r in campaign] == [early.id] and [r.ticket.id for r in done] == [closed.id]
    assert await read(store, lambda tx: tx.tickets.counts()) == {TicketStatus.NEW: 2, TicketStatus.CLOSED: 1}


async def test_tickets_move_with_a_merge_and_back_with_its_undo(store: Store) -> None:
    survivor, absorbed = await new_people(store, 2)
    async with store.transaction() as tx:
        ticket = await tx.tickets.open(absorbed, CAMPAIGN, VK, "2", "help", NOW)
        await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, NOW, body="help")
    async with store.transaction() as tx:
        moved = await tx.tickets.reassign(absorbed, survivor)
    assert set(moved) == {"tickets", "ticket_events"}
    assert [t.id for t in await read(store, lambda tx: tx.tickets.of_person(survivor))] == [ticket.id]
    async with store.transaction() as tx:
        assert await tx.tickets.restore(moved, absorbed) == 2
    assert await read(store, lambda tx: tx.tickets.of_person(survivor)) == []
    assert (await read(store, lambda tx: tx.tickets.events(ticket.id)))[0].person_id == absorbed


async def test_erasure_blanks_what_the_person_and_staff_wrote_but_keeps_the_ticket(store: Store) -> None:
    person = await new_person(store)
    async with store.transaction() as tx:
        ticket = await tx.tickets.open(person, CAMPAIGN, TELEGRAM, "1001", "Мой телефон +79123456789", NOW)
        await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, NOW, body="Мой телефон +79123456789",
                                   photo_sha256="ab" * 32)
        await tx.tickets.add_event(ticket.id, TicketEventKind.RATING, NOW, body="5")
    async with store.transaction() as tx:
        assert await tx.tickets.erase_personal(ErasureSubject(person, ((TELEGRAM, "1001"),)), at(days=1)) >= 2
    stored = await read(store, lambda tx: tx.tickets.get(ticket.id))
    events = await read(store, lambda tx: tx.tickets.events(ticket.id))
    assert stored.subject == ERASED and stored.account_id == ERASED and stored.person_id == person
    assert [(e.body, e.photo_sha256) for e in events] == [(ERASED, None), ("5", None)]
