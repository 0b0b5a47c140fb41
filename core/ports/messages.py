"""The outbox (messages on their way out, with what became of them) and the log of what people sent."""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def address(self) -> tuple[str, str]:
        """Messages to one address go out one at a time, in order."""
        if self.channel is not None and self.account_id is not None:
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


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery attempt; recorded in batches."""

    message_id: int
    status: MessageStatus  # PENDING means postponed until ``retry_at``
    channel: ChannelName | None = None
    account_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None


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
                lease_until: datetime | None = None) -> QueuedMessage:
        """Queue a message, written at commit (its id is set then). With ``owner``, it is leased
        to that worker, which delivers it right after the commit."""
        ...

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, alive_since: datetime,
                        limit: int) -> list[QueuedMessage]:
        """Due pending messages, and messages leased to a worker that stopped beating before
        ``alive_since``, leased to ``owner`` (others skip them); replies before bulk notices."""
        ...
    async def record(self, outcomes: list[Outcome], now: datetime) -> None: ...
    async def entries(self, person_id: int | None = None, template: str | None = None) -> list[OutboxEntry]: ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
