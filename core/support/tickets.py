"""What happens to a ticket: the person writes, staff answer, note, assign, close; the person rates.

Both the support scenario (the person's side) and the staff console (the staff's side) change
tickets only through these functions, inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.channels import ChannelName
from core.domain_events import Happened
from core.domain_events import event as happened
from core.events import OutgoingMessage
from core.ports import ScenarioState, UnitOfWork
from core.ports.tickets import Ticket, TicketEvent, TicketEventKind, TicketStatus
from core.queueing import enqueue

SUBJECT_LENGTH = 120
MAX_REPLY = 3000  # one staff answer: fits every messenger's message after the template's words
RATINGS = range(1, 6)
WAITING_FOR_US = (TicketStatus.NEW, TicketStatus.OPEN)
# the person's side of a ticket: the support scenario, and its state in which whatever they write joins the ticket
CONVERSATION, LISTENING = "support", "open"
DESCRIBING_ANOTHER = "photo"  # a new ticket's photo step: a reopened older one does not take it over


def subject_of(text: str) -> str:
    first = " ".join(text.split())
    return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"


async def open_ticket(tx: UnitOfWork, person_id: int, campaign: str, channel: ChannelName, account_id: str,
                      text: str, now: datetime, *, photo_sha256: str | None = None) -> Ticket:
    """A new ticket from the person's words; a photo sent with them (its caption the words) is their attachment."""
    ticket = await tx.tickets.open(person_id, campaign, channel, account_id, subject_of(text), now)
    await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, now, body=text, photo_sha256=photo_sha256)
    tx.events.add(happened(Happened.TICKET_OPENED, person_id, now, ticket_id=ticket.id, channel=channel))
    return ticket


async def person_wrote(tx: UnitOfWork, ticket: Ticket, now: datetime, *, text: str = "",
                       photo_sha256: str | None = None, channel: ChannelName | None = None,
                       account_id: str | None = None) -> TicketEvent:
    """The person added to their ticket; answers now go where they last wrote from."""
    event = await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, now, body=text, photo_sha256=photo_sha256)
    ticket.last_person_at = ticket.updated_at = now
    if ticket.status is TicketStatus.WAITING:
        ticket.status = TicketStatus.OPEN
    if channel is not None and account_id is not None:
        ticket.channel, ticket.account_id = channel, account_id
    await tx.tickets.save(ticket)
    return event


@dataclass(frozen=True)
class Reply:
    message: OutgoingMessage
    event: TicketEvent


async def reply(tx: UnitOfWork, ticket: Ticket, staff_id: int, text: str, now: datetime, *,
                through_router: bool = False) -> Reply:
    """Staff answer the person: on the ticket's channel, or wherever the router reaches them best."""
    text = text.strip()[:MAX_REPLY]
    person = await tx.people.get(ticket.person_id)
    channel, account = (None, None) if through_router else (ticket.channel, ticket.account_id)
    message = OutgoingMessage(person.id, "support.reply", {"ticket": ticket.id, "text": text}, person.locale,
                              channel, account)
    enqueue(tx, message, now)
    event = await tx.tickets.add_event(ticket.id, TicketEventKind.REPLY, now, body=text, staff_id=staff_id)
    tx.events.add(happened(Happened.TICKET_ANSWERED, person.id, now, ticket_id=ticket.id, by=f"staff:{staff_id}"))
    ticket.last_staff_at = ticket.updated_at = now
    if ticket.status is not TicketStatus.CLOSED:
        ticket.status = TicketStatus.WAITING
    await tx.tickets.save(ticket)
    return Reply(message, event)


async def note(tx: UnitOfWork, ticket: Ticket, staff_id: int, text: str, now: datetime) -> TicketEvent:
    event = await tx.tickets.add_event(ticket.id, TicketEventKind.NOTE, now, body=text.strip()[:MAX_REPLY],
                                       staff_id=staff_id)
    ticket.updated_at = now
    await tx.tickets.save(ticket)
    return event


async def assign(tx: UnitOfWork, ticket: Ticket, staff_id: int | None, by: int, now: datetime) -> None:
    ticket.assigned_to, ticket.updated_at = staff_id, now
    if ticket.status is TicketStatus.NEW and staff_id is not None:
        ticket.status = TicketStatus.OPEN
    await tx.tickets.add_event(ticket.id, TicketEventKind.ASSIGN, now, body=str(staff_id or ""), staff_id=by)
    await tx.tickets.save(ticket)


async def set_status(tx: UnitOfWork, ticket: Ticket, status: TicketStatus, now: datetime, *,
                     staff_id: int | None = None) -> bool:
    """Change the status; closing tells the person and asks them to rate the answer, and staff reopening a closed
    ticket tells them it listens again. False when unchanged."""
    if ticket.status is status:
        return False
    was, ticket.status, ticket.updated_at = ticket.status, status, now
    ticket.closed_at = now if status is TicketStatus.CLOSED else None
    await tx.tickets.add_event(ticket.id, TicketEventKind.STATUS, now, body=status.value, staff_id=staff_id)
    await tx.tickets.save(ticket)
    if status is TicketStatus.CLOSED:
        by = f"staff:{staff_id}" if staff_id is not None else "person"
        tx.events.add(happened(Happened.TICKET_CLOSED, ticket.person_id, now, ticket_id=ticket.id, by=by))
    if status is TicketStatus.CLOSED and staff_id is not None:
        person = await tx.people.get(ticket.person_id)
        enqueue(tx, OutgoingMessage(person.id, "support.closed_by_staff", {"ticket": ticket.id},
                                            person.locale, ticket.channel, ticket.account_id), now)
    if was is TicketStatus.CLOSED and staff_id is not None:
        await _reopened(tx, ticket, now)
    return True


async def _reopened(tx: UnitOfWork, ticket: Ticket, now: datetime) -> None:
    """Staff reopened a closed ticket: the person is told (a notice, through the router: they may have moved on
    to another messenger since), and what they write next joins it — their support conversation, finished when
    the ticket closed, listens again (without this their next words went to the menu)."""
    person = await tx.people.get(ticket.person_id)
    enqueue(tx, OutgoingMessage(person.id, "support.reopened", {"ticket": ticket.id}, person.locale), now)
    state = (await tx.states.load(person.id)).get(CONVERSATION)
    if state is None:
        state = ScenarioState(person.id, CONVERSATION, LISTENING, False)
    elif state.state == DESCRIBING_ANOTHER and state.data.get("ticket") != ticket.id:
        return  # a newer ticket is being written: it stays theirs (and the newest open ticket is the one joined)
    state.state, state.data = LISTENING, {**state.data, "ticket": ticket.id}
    await tx.states.save(state, now)


async def may_rate(tx: UnitOfWork, ticket: Ticket, now: datetime, change_window: timedelta) -> bool:
    """A ticket is rated once; the rating may change only within ``change_window`` of the first one
    (SUPPORT_RATING_CHANGE_MINUTES), so an old button pressed later changes no score."""
    if ticket.rating is None:
        return True
    first = min((e.created_at for e in await tx.tickets.events(ticket.id) if e.kind is TicketEventKind.RATING),
                default=None)
    return first is not None and now - first < change_window


async def rate(tx: UnitOfWork, ticket: Ticket, rating: int, now: datetime,
               change_window: timedelta = timedelta(0)) -> bool:
    """False, changing nothing, when the ticket's rating can no longer change (``may_rate``)."""
    if rating not in RATINGS:
        raise ValueError(f"a rating is 1–5, not {rating}")
    if not await may_rate(tx, ticket, now, change_window):
        return False
    ticket.rating, ticket.updated_at = rating, now
    await tx.tickets.add_event(ticket.id, TicketEventKind.RATING, now, body=str(rating))
    await tx.tickets.save(ticket)
    return True


def is_overdue(ticket: Ticket, target: timedelta, now: datetime) -> bool:
    """Waiting for us longer than the campaign's answer target."""
    return (ticket.status in WAITING_FOR_US and ticket.last_person_at is not None
            and now - ticket.last_person_at > target)
