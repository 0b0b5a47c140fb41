"""Support tickets and their events, in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.channels import ChannelName
from core.errors import ConflictError
from core.identity import Person
from core.ports.person_owned import Moved
from core.ports.personal_data import ERASED, ErasureSubject
from core.ports.tickets import QueueFilter, QueueRow, Ticket, TicketEvent, TicketEventKind, TicketStatus
from storage.memory.table import Table, reassign_rows, restore_rows, utc

SUBJECT_LENGTH = 200
BODY_LENGTH = 8000
PERSONS_WORDS = (TicketEventKind.PERSON, TicketEventKind.REPLY, TicketEventKind.NOTE)


class TicketTables:
    def __init__(self) -> None:
        self.tickets: Table[int, Ticket] = Table("tickets")  # never changed in place: a save puts a new one
        self.events: Table[int, TicketEvent] = Table("ticket_events")

    def all(self) -> list[Table]:
        return [self.tickets, self.events]


class MemoryTickets:
    def __init__(self, tables: TicketTables, persons: Table[int, Person]) -> None:
        self._t = tables
        self._persons = persons

    async def open(self, person_id: int, campaign: str, channel: ChannelName, account_id: str, subject: str,
                   now: datetime) -> Ticket:
        self._persons.one(person_id)
        ticket = Ticket(self._t.tickets.next_id(), person_id, campaign, channel, account_id, TicketStatus.NEW,
                        subject[:SUBJECT_LENGTH], utc(now), utc(now), last_person_at=utc(now), version=1)
        self._t.tickets.put(ticket.id, ticket)
        return replace(ticket)

    async def get(self, ticket_id: int) -> Ticket:
        return replace(self._t.tickets.one(ticket_id))

    async def save(self, ticket: Ticket) -> None:
        stored = self._t.tickets.one(ticket.id)
        if stored.version != ticket.version:
            raise ConflictError(f"ticket {ticket.id} changed meanwhile")
        self._t.tickets.put(ticket.id, replace(
            ticket, subject=ticket.subject[:SUBJECT_LENGTH], person_id=stored.person_id, campaign=stored.campaign,
            created_at=stored.created_at, updated_at=utc(ticket.updated_at),
            last_person_at=utc(ticket.last_person_at), last_staff_at=utc(ticket.last_staff_at),
            closed_at=utc(ticket.closed_at), version=ticket.version + 1))
        ticket.version += 1

    async def current_of(self, person_id: int) -> Ticket | None:
        live = self._t.tickets.where(lambda t: t.person_id == person_id and t.status is not TicketStatus.CLOSED)
        return replace(max(live, key=lambda t: t.id)) if live else None

    async def of_person(self, person_id: int) -> list[Ticket]:
        rows = self._t.tickets.where(lambda t: t.person_id == person_id)
        return [replace(t) for t in sorted(rows, key=lambda t: -t.id)[:200]]

    async def add_event(self, ticket_id: int, kind: TicketEventKind, now: datetime, *, body: str = "",
                        staff_id: int | None = None, photo_sha256: str | None = None) -> TicketEvent:
        ticket = self._t.tickets.one(ticket_id)
        event = TicketEvent(self._t.events.next_id(), ticket_id, ticket.person_id, kind, utc(now),
                            body[:BODY_LENGTH], staff_id, photo_sha256)
        return self._t.events.put(event.id, event)

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        return sorted(self._t.events.where(lambda e: e.ticket_id == ticket_id), key=lambda e: e.id)[:2000]

    async def queue(self, query: QueueFilter) -> list[QueueRow]:
        def wanted(t: Ticket) -> bool:
            if t.status not in query.statuses or (query.campaign and t.campaign != query.campaign):
                return False
            if query.assigned_to == 0:
                return t.assigned_to is None
            return query.assigned_to is None or t.assigned_to == query.assigned_to

        rows = sorted(self._t.tickets.where(wanted), key=lambda t: (t.last_person_at is not None,
                                                                    t.last_person_at, t.id))
        return [QueueRow(replace(t), self._persons.one(t.person_id).name)
                for t in rows[:max(1, min(query.limit, 500))]]

    async def counts(self) -> dict[TicketStatus, int]:
        counts: dict[TicketStatus, int] = {}
        for ticket in self._t.tickets.rows():
            counts[ticket.status] = counts.get(ticket.status, 0) + 1
        return counts

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows(self._t.all(), absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows(self._t.all(), moved, person_id)

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        changed = 0
        for event in self._t.events.where(lambda e: e.person_id == subject.person_id and e.kind in PERSONS_WORDS):
            self._t.events.put(event.id, replace(event, body=ERASED, photo_sha256=None))
            changed += 1
        for ticket in self._t.tickets.where(lambda t: t.person_id == subject.person_id):
            self._t.tickets.put(ticket.id, replace(ticket, subject=ERASED, account_id=ERASED, updated_at=utc(now),
                                                   version=ticket.version + 1))
            changed += 1
        return changed
