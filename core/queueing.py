"""Putting a message in the outbox, and saying so: every queued message is a ``message.queued`` domain event.

The event is stored with the message (the same unit of work). A queued message gets its id when
the unit of work writes its new messages (at commit, with the others of a group commit, as one
statement); the event's data reads the id then, so it is never written or published without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from core.domain_events import CATALOGUE, DomainEvent, Happened
from core.events import OutgoingMessage
from core.ports import QueuedMessage, UnitOfWork

_QUEUED = CATALOGUE[Happened.MESSAGE_QUEUED]


class _QueuedData(Mapping[str, Any]):
    """``message.queued``'s data, with the message's id as it is once written."""

    def __init__(self, queued: QueuedMessage, reply: bool) -> None:
        self._queued = queued
        self._reply = reply

    def _values(self) -> dict[str, Any]:
        q = self._queued
        return {"message_id": q.id, "template": q.template, "channel": q.channel, "reply": self._reply,
                "broadcast_id": q.broadcast_id}

    def __getitem__(self, key: str) -> Any:
        return self._values()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_QUEUED.fields)

    def __len__(self) -> int:
        return len(_QUEUED.fields)


def enqueue(tx: UnitOfWork, message: OutgoingMessage, now: datetime, *, reply: bool = False,
            owner: str | None = None, lease_until: datetime | None = None,
            not_before: datetime | None = None) -> QueuedMessage:
    """Queue ``message``; ``reply``: it answers what the person just sent (else it is a notice: the outbox is woken
    for it); ``owner``: leased to that worker, which sends it as soon as the unit commits; ``not_before``: it waits
    until then (a broadcast spread over hours)."""
    queued = tx.messages.enqueue(message, now, owner=owner, lease_until=lease_until, not_before=not_before)
    tx.events.add(DomainEvent(Happened.MESSAGE_QUEUED, message.person_id, now, _QueuedData(queued, reply),
                              _QUEUED.version))
    return queued
