"""What happened in the domain: one catalogue of events, each with a version and the fields its data holds.

An action appends an event to its unit of work (``record``); the event is stored in the same
transaction as the effect it reports (the outbox pattern: both or neither), and after the
commit the bus (``core.bus``) hands it to whoever listens in this process — the outbox wakes for
a notice, machines waiting for an event are stirred. Durable consumers (the machines, later the
webhooks) read the stored events in order from a cursor of their own (``core.event_feed``).

Event data never holds personal data: ids, amounts in kopecks, template keys, channel names
and reasons. So an erasure leaves the stored events as they are (the person's id alone names
nobody once the profile is blanked), and a subscriber that may see personal data reads it
from the profile, where erasure reaches it. A field added to an event's data is a new version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import CoreError


class Happened(StrEnum):
    PERSON_REGISTERED = "person.registered"
    PERSON_MERGED = "person.merged"
    PERSON_ERASED = "person.erased"
    RECEIPT_ACCEPTED = "receipt.accepted"
    RECEIPT_REFUSED = "receipt.refused"
    RECEIPT_APPROVED = "receipt.approved"
    RECEIPT_REJECTED = "receipt.rejected"
    CASHBACK_ACCRUED = "cashback.accrued"
    CASHBACK_PAID = "cashback.paid"
    PAYOUT_CANCELLED = "payout.cancelled"
    DRAW_FROZEN = "draw.frozen"
    DRAW_DRAWN = "draw.drawn"
    PRIZE_WON = "prize.won"
    PRIZE_CONFIRMED = "prize.confirmed"
    PRIZE_FORFEITED = "prize.forfeited"
    MESSAGE_QUEUED = "message.queued"
    MESSAGE_SENT = "message.sent"
    MESSAGE_FAILED = "message.failed"
    MESSAGE_CAPPED = "message.capped"
    TICKET_OPENED = "ticket.opened"
    TICKET_ANSWERED = "ticket.answered"
    TICKET_CLOSED = "ticket.closed"


@dataclass(frozen=True)
class Spec:
    version: int
    fields: tuple[str, ...]  # the keys of the event's data, every one present
    about: str


CATALOGUE: Mapping[Happened, Spec] = {
    Happened.PERSON_REGISTERED: Spec(1, ("channel", "source"), "registration completed (consent given) in a channel; "
                                                               "source: the pack's or poster's link, if any"),
    Happened.PERSON_MERGED: Spec(1, ("absorbed_id", "reason"), "another profile was joined into this one"),
    Happened.PERSON_ERASED: Spec(1, ("kept_for_law",), "the person's data was erased at their request"),
    Happened.RECEIPT_ACCEPTED: Spec(1, ("receipt_id", "campaign", "total_kopecks", "cashback_kopecks", "entries",
                                        "status"), "a receipt was taken into a campaign (approved or to be checked)"),
    Happened.RECEIPT_REFUSED: Spec(1, ("campaign", "reason"), "a receipt was refused by the campaign's rules"),
    Happened.RECEIPT_APPROVED: Spec(1, ("receipt_id", "cashback_kopecks", "by"), "a receipt was approved"),
    Happened.RECEIPT_REJECTED: Spec(1, ("receipt_id", "reason", "by"), "a receipt was rejected"),
    Happened.CASHBACK_ACCRUED: Spec(1, ("receipt_id", "amount_kopecks"), "cashback became the person's to take"),
    Happened.CASHBACK_PAID: Spec(1, ("payout_id", "amount_kopecks"), "a payout was paid"),
    Happened.PAYOUT_CANCELLED: Spec(1, ("payout_id", "amount_kopecks", "by"),
                                    "a requested payout was taken back before it was paid (by the person or staff)"),
    Happened.DRAW_FROZEN: Spec(1, ("draw_id", "entries", "list_sha256"), "a draw's entry list was frozen"),
    Happened.DRAW_DRAWN: Spec(1, ("draw_id", "winners"), "a draw was run"),
    Happened.PRIZE_WON: Spec(1, ("draw_id", "winner_id", "prize", "deadline"), "a person won a prize"),
    Happened.PRIZE_CONFIRMED: Spec(1, ("draw_id", "winner_id"), "a winner confirmed their prize"),
    Happened.PRIZE_FORFEITED: Spec(1, ("draw_id", "winner_id", "status"), "a winner declined or did not answer"),
    Happened.MESSAGE_QUEUED: Spec(1, ("message_id", "template", "channel", "reply", "broadcast_id"),
                                  "a message was queued (a reply to the person, or a notice)"),
    Happened.MESSAGE_SENT: Spec(1, ("message_id", "template", "channel"), "the channel took a message"),
    Happened.MESSAGE_FAILED: Spec(1, ("message_id", "template", "status", "reason"),
                                  "a message could not be delivered"),
    Happened.MESSAGE_CAPPED: Spec(1, ("message_id", "template", "broadcast_id", "cap"),
                                  "a broadcast was not sent: the person's frequency cap was reached"),
    Happened.TICKET_OPENED: Spec(1, ("ticket_id", "channel"), "a support ticket was opened"),
    Happened.TICKET_ANSWERED: Spec(1, ("ticket_id", "by"), "staff answered a ticket"),
    Happened.TICKET_CLOSED: Spec(1, ("ticket_id", "by"), "a ticket was closed"),
}


class EventShapeError(CoreError):
    """An event's data does not have the fields its catalogue entry names (a bug: the schema is public)."""


@dataclass(frozen=True)
class DomainEvent:
    kind: Happened
    person_id: int | None
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    id: int = 0  # set once stored


def event(kind: Happened, person_id: int | None, now: datetime, **data: Any) -> DomainEvent:
    """A new event of ``kind``, its data checked against the catalogue."""
    spec = CATALOGUE[kind]
    if set(data) != set(spec.fields):
        missing, extra = set(spec.fields) - set(data), set(data) - set(spec.fields)
        raise EventShapeError(f"{kind}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    return DomainEvent(kind, person_id, now, data, spec.version)


_CONTACTS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"']+|\+\d[\d ()-]{8,}\d|\b\d{10,15}\b")


def without_contacts(text: str, limit: int = 300) -> str:
    """A channel's own words (an error, a bounce) without the addresses or numbers they may quote."""
    return _CONTACTS.sub("…", text)[:limit]
