"""Support tickets: one person's requests, whatever channel they wrote from, and everything said on each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.channels import ChannelName
from core.ports.person_owned import Moved
from core.ports.personal_data import ErasureSubject


class TicketStatus(StrEnum):
    NEW = "new"  # nobody on the staff has answered yet
    OPEN = "open"  # the person wrote again after an answer, or staff work on it
    WAITING = "waiting"  # staff answered: the person's turn
    CLOSED = "closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING)


class TicketEventKind(StrEnum):
    PERSON = "person"  # the person wrote (text, or a photo kept in ``tx.photos``)
    REPLY = "reply"  # staff answered the person
    NOTE = "note"  # staff wrote to staff: the person never sees it
    STATUS = "status"  # the status changed (body: the new one)
    ASSIGN = "assign"  # assigned to a staff member (body: their id, empty when unassigned)
    RATING = "rating"  # the person rated the answer (body: 1–5)


@dataclass
class Ticket:
    id: int
    person_id: int
    campaign: str
    channel: ChannelName  # where the person wrote from: replies go there
    account_id: str
    status: TicketStatus
    subject: str
    created_at: datetime
    updated_at: datetime
    last_person_at: datetime | None = None
    last_staff_at: datetime | None = None
    closed_at: datetime | None = None
    assigned_to: int | None = None
    rating: int | None = None
    version: int = 0  # a row version: two writers racing on one ticket conflict

    @property
    def is_open(self) -> bool:
        return self.status is not TicketStatus.CLOSED


@dataclass(frozen=True)
class TicketEvent:
    id: int
    ticket_id: int
    person_id: int
    kind: TicketEventKind
    created_at: datetime
    body: str = ""
    staff_id: int | None = None
    photo_sha256: str | None = None


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: statuses, whose tickets (``assigned_to``: a staff id, 0 for nobody's), a campaign."""

    statuses: tuple[TicketStatus, ...] = OPEN_STATUSES
    assigned_to: int | None = None
    campaign: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class QueueRow:
    ticket: Ticket
    person_name: str | None
    events: int = 0


@dataclass
class TicketCounts:
    by_status: dict[TicketStatus, int] = field(default_factory=dict)


class TicketRepository(Protocol):
    async def open(self, person_id: int, campaign: str, channel: ChannelName, account_id: str, subject: str,
                   now: datetime) -> Ticket: ...
    async def get(self, ticket_id: int) -> Ticket:
        """``LookupError`` when there is no such ticket."""
        ...
    async def save(self, ticket: Ticket) -> None:
        """Store the ticket's changing fields where its version still matches, then bump the version;
        ``ConflictError`` when someone changed it first."""
        ...
    async def current_of(self, person_id: int) -> Ticket | None:
        """The person's newest ticket that is not closed."""
        ...
    async def of_person(self, person_id: int) -> list[Ticket]:
        """Newest first, from every channel."""
        ...
    async def add_event(self, ticket_id: int, kind: TicketEventKind, now: datetime, *, body: str = "",
                        staff_id: int | None = None, photo_sha256: str | None = None) -> TicketEvent: ...
    async def events(self, ticket_id: int) -> list[TicketEvent]:
        """Oldest first."""
        ...
    async def queue(self, query: QueueFilter) -> list[QueueRow]:
        """Tickets waiting longest for us first (by the person's last message), at most ``query.limit``."""
        ...
    async def counts(self) -> dict[TicketStatus, int]: ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int: ...
