"""Support tickets and their events in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update

from core.channels import ChannelName
from core.errors import ConflictError
from core.ports.person_owned import Moved
from core.ports.personal_data import ERASED, ErasureSubject
from core.ports.tickets import QueueFilter, QueueRow, Ticket, TicketEvent, TicketEventKind, TicketStatus
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.people import persons
from storage.tables.support import ticket_events, tickets

OWNED = (tickets, ticket_events)
SUBJECT_LENGTH = 200
BODY_LENGTH = 8000
CHANGING = ("status", "subject", "assigned_to", "rating", "updated_at", "last_person_at", "last_staff_at",
            "closed_at", "channel", "external_id")

_open = insert(tickets).returning(tickets.c.id)
_get = select(tickets).where(tickets.c.id == bindparam("id_"))
_save = (update(tickets).where(tickets.c.id == bindparam("id_"), tickets.c.version == bindparam("version_"))
         .values({**{name: bindparam(name) for name in CHANGING}, "version": tickets.c.version + 1}))
_current = (select(tickets).where(tickets.c.person_id == bindparam("person_"),
                                  tickets.c.status != TicketStatus.CLOSED.value)
            .order_by(tickets.c.id.desc()).limit(1))
_add_event = insert(ticket_events).returning(ticket_events.c.id)


def _ticket(row: object) -> Ticket:
    return record(Ticket, row, status=TicketStatus(row.status), channel=ChannelName(row.channel),  # type: ignore[attr-defined]
                  account_id=row.external_id)  # type: ignore[attr-defined]


def _event(row: object) -> TicketEvent:
    return record(TicketEvent, row, kind=TicketEventKind(row.kind))  # type: ignore[attr-defined]


class SqlTickets:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def open(self, person_id: int, campaign: str, channel: ChannelName, account_id: str, subject: str,
                   now: datetime) -> Ticket:
        subject = subject[:SUBJECT_LENGTH]
        ticket_id = await self.db.scalar(_open, {
            "person_id": person_id, "campaign": campaign, "channel": channel, "external_id": account_id,
            "status": TicketStatus.NEW.value, "subject": subject, "created_at": now, "updated_at": now,
            "last_person_at": now, "version": 1})
        return Ticket(ticket_id, person_id, campaign, channel, account_id, TicketStatus.NEW, subject, now, now,
                      last_person_at=now, version=1)

    async def get(self, ticket_id: int) -> Ticket:
        row = await self.db.first(_get, {"id_": ticket_id})
        if row is None:
            raise LookupError(f"no ticket {ticket_id}")
        return _ticket(row)

    async def save(self, ticket: Ticket) -> None:
        values = {name: getattr(ticket, name) for name in CHANGING if name != "external_id"}
        values["status"] = ticket.status.value
        values["subject"] = ticket.subject[:SUBJECT_LENGTH]
        values["external_id"] = ticket.account_id
        result = await self.db.execute(_save, {"id_": ticket.id, "version_": ticket.version, **values})
        if result.rowcount != 1:
            raise ConflictError(f"ticket {ticket.id} changed meanwhile")
        ticket.version += 1

    async def current_of(self, person_id: int) -> Ticket | None:
        row = await self.db.first(_current, {"person_": person_id})
        return None if row is None else _ticket(row)

    async def of_person(self, person_id: int) -> list[Ticket]:
        rows = await self.db.rows(select(tickets).where(tickets.c.person_id == person_id)
                                  .order_by(tickets.c.id.desc()).limit(200))
        return [_ticket(row) for row in rows]

    async def add_event(self, ticket_id: int, kind: TicketEventKind, now: datetime, *, body: str = "",
                        staff_id: int | None = None, photo_sha256: str | None = None) -> TicketEvent:
        person_id = await self.db.scalar(select(tickets.c.person_id).where(tickets.c.id == ticket_id))
        if person_id is None:
            raise LookupError(f"no ticket {ticket_id}")
        body = body[:BODY_LENGTH]
        event_id = await self.db.scalar(_add_event, {
            "ticket_id": ticket_id, "person_id": person_id, "kind": kind.value, "staff_id": staff_id, "body": body,
            "photo_sha256": photo_sha256, "created_at": now})
        return TicketEvent(event_id, ticket_id, person_id, kind, now, body, staff_id, photo_sha256)

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        rows = await self.db.rows(select(ticket_events).where(ticket_events.c.ticket_id == ticket_id)
                                  .order_by(ticket_events.c.id).limit(2000))
        return [_event(row) for row in rows]

    async def queue(self, query: QueueFilter) -> list[QueueRow]:
        statement = (select(tickets, persons.c.name.label("person_name"))
                     .join(persons, persons.c.id == tickets.c.person_id)
                     .where(tickets.c.status.in_([s.value for s in query.statuses])))
        if query.assigned_to == 0:
            statement = statement.where(tickets.c.assigned_to.is_(None))
        elif query.assigned_to is not None:
            statement = statement.where(tickets.c.assigned_to == query.assigned_to)
        if query.campaign:
            statement = statement.where(tickets.c.campaign == query.campaign)
        statement = statement.order_by(tickets.c.last_person_at, tickets.c.id).limit(max(1, min(query.limit, 500)))
        return [QueueRow(_ticket(row), row.person_name) for row in await self.db.rows(statement)]

    async def counts(self) -> dict[TicketStatus, int]:
        rows = await self.db.rows(select(tickets.c.status, func.count()).group_by(tickets.c.status))
        return {TicketStatus(status): int(count) for status, count in rows}

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        owner = subject.person_id
        events = await self.db.execute(update(ticket_events).where(
            ticket_events.c.person_id == owner, ticket_events.c.kind.in_(
                [TicketEventKind.PERSON.value, TicketEventKind.REPLY.value, TicketEventKind.NOTE.value]))
            .values(body=ERASED, photo_sha256=None))
        changed = await self.db.execute(update(tickets).where(tickets.c.person_id == owner).values(
            subject=ERASED, external_id=ERASED, updated_at=now, version=tickets.c.version + 1))
        return int(events.rowcount) + int(changed.rowcount)
