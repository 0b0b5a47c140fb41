"""The outbox (messages on their way out, with what became of them) and the log of what people sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import InboundEvent, OutgoingMessage
from core.ports.person_owned import Moved


@dataclass
class QueuedMessage:
    """A message a worker is about to deliver; ``id`` is known once its unit of work is flushed."""

    id: int
    person_id: int
    channel: ChannelName | None
    account_id: str | None
    template: str
    params: dict[str, Any]
    locale: str
    attempts: int = 0
    bulk: bool = False
    ack_window_seconds: int | None = None
    deadline: datetime | None = None
    round: int = 0  # 0: first delivery; n: the n-th re-send of a message nobody answered
    tried: list[str] = field(default_factory=list)  # "channel:account" it was delivered on, in order
    broadcast_id: int | None = None

    @property
    def needs_ack(self) -> bool:
        return self.ack_window_seconds is not None

    @property
    def routed(self) -> bool:
        """The router places it: it came without an address (or it escalates: ``channel`` is where it went last)."""
        return self.channel is None or self.account_id is None or bool(self.tried)

    @property
    def address(self) -> tuple[str, str]:
        """Messages to one address go out one at a time, in order."""
        if not self.routed and self.channel is not None and self.account_id is not None:
            return (self.channel, self.account_id)
        return ("person", str(self.person_id))


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox row as staff and tests see it."""

    id: int
    person_id: int
    channel: ChannelName | None
    account_id: str | None
    template: str
    params: dict[str, Any]
    status: MessageStatus
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    acked_at: datetime | None = None
    deadline: datetime | None = None
    round: int = 0
    broadcast_id: int | None = None


COUNTED_AS_SENT = (MessageStatus.SENT, MessageStatus.AWAITING_ACK, MessageStatus.ACKNOWLEDGED)


@dataclass(frozen=True)
class BroadcastSend:
    """A broadcast message a person got (``sent_at``) or that a worker is sending now (``sent_at`` None): what
    the frequency caps count."""

    message_id: int
    person_id: int
    channel: ChannelName | None
    sent_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery attempt; recorded in batches."""

    message_id: int
    status: MessageStatus  # PENDING: postponed until ``retry_at``; AWAITING_ACK: sent, re-sent at ``retry_at``
    channel: ChannelName | None = None
    account_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    round: int | None = None  # an escalation's progress, kept with the message (None: unchanged)
    tried: tuple[str, ...] | None = None
    paced: bool = False  # PENDING only because its channel is busy: not an attempt (it was not tried)


@dataclass(frozen=True)
class LoggedMessage:
    person_id: int
    channel: ChannelName
    account_id: str
    kind: str
    body: str
    created_at: datetime


class MessageRepository(Protocol):
    async def log_inbound(self, person_id: int, event: InboundEvent, now: datetime) -> None:
        """Keep what the person sent (photo bytes are never kept here); may be written at commit."""
        ...
    async def inbound(self, person_id: int) -> list[LoggedMessage]: ...

    def enqueue(self, message: OutgoingMessage, now: datetime, *, owner: str | None = None,
                lease_until: datetime | None = None, not_before: datetime | None = None) -> QueuedMessage:
        """Queue a message, written at commit (its id is set then). With ``owner``, it is leased
        to that worker, which delivers it right after the commit; with ``not_before``, it waits until then."""
        ...

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, alive_since: datetime,
                        limit: int) -> list[QueuedMessage]:
        """Due pending messages, and messages leased to a worker that stopped beating before
        ``alive_since``, leased to ``owner`` (others skip them); replies before bulk notices."""
        ...
    async def record(self, outcomes: list[Outcome], now: datetime) -> None: ...
    async def entries(self, person_id: int | None = None, template: str | None = None, *,
                      broadcast_id: int | None = None) -> list[OutboxEntry]: ...

    async def broadcast_sends(self, person_ids: list[int], since: datetime) -> dict[int, list[BroadcastSend]]:
        """Per person, the broadcast messages delivered since ``since`` and those being sent now."""
        ...

    def note_reply(self, person_id: int, now: datetime) -> None:
        """The person wrote to us: every delivered message awaiting their answer is acknowledged (at commit)."""
        ...
    async def acknowledge(self, message_id: int, person_id: int, now: datetime) -> bool:
        """The person answered this message (its button): False when it is not theirs or not awaiting."""
        ...

    async def hurry(self, channel: ChannelName, now: datetime) -> int:
        """Routed messages waiting to retry after ``channel`` failed them are due now (the channel went down: the
        router places them elsewhere at once); how many."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
