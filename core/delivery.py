"""What sending a message can end in, and the contract every channel's sender fulfils."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from core.channels import ChannelProfile
from core.templates import Rendered

# A message handed to a sender is leased for at most this long; a live worker's lease is
# honoured until then, a dead worker's (no heartbeat) is taken over within seconds.
DELIVERY_LEASE = timedelta(minutes=2)


class DeliveryOutcome(StrEnum):
    """One attempt on one channel."""

    DELIVERED = "delivered"
    UNREACHABLE = "unreachable"  # blocked the bot, no such account, no permission: try another channel
    RETRY = "retry"  # rate limited or a network fault: the same channel later
    FAILED = "failed"  # the channel refused this message for good (a bug on our side)


class MessageStatus(StrEnum):
    """Where an outbox message is; the same words in the core and in the database."""

    PENDING = "pending"  # waiting for its time (new, or postponed after a retryable failure)
    SENDING = "sending"  # leased to a worker that is sending it now
    SENT = "sent"
    FAILED = "failed"  # gave up: refused for good, or too many retries
    UNREACHABLE = "unreachable"  # every candidate channel said the person cannot be reached there
    UNDELIVERABLE = "undeliverable"  # the person has no account on a channel we run
    AWAITING_ACK = "awaiting_ack"  # delivered; sent again on the next channel if not answered in its window
    ACKNOWLEDGED = "acknowledged"  # delivered and answered (a button press or a reply)
    UNREACHED = "unreached"  # its final deadline passed without an answer: staff follow it up
    CAPPED = "capped"  # a broadcast not sent: the person had as many as the frequency caps allow

    @property
    def is_final(self) -> bool:
        return self not in (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.AWAITING_ACK)


class ThrottleScope(StrEnum):
    """Whose limit a "too many requests" was, where the channel says so (None: it did not say)."""

    CHAT = "chat"  # this one chat's: the others go on as before
    BOT = "bot"  # the bot's own, every chat together: every sender of the bot waits ``retry_after``


@dataclass(frozen=True)
class DeliveryResult:
    outcome: DeliveryOutcome
    retry_after: float | None = None
    detail: str = ""
    throttled: bool = False  # the channel said "too many requests" (``core.throttle`` decides for whom)
    scope: ThrottleScope | None = None


DELIVERED = DeliveryResult(DeliveryOutcome.DELIVERED)


class ChannelSender(Protocol):
    profile: ChannelProfile

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        """Send one rendered message; ``idempotency_key`` is stable across retries of the same message."""
        ...


RequestTurn = Callable[[], Awaitable[None]]  # waits for one request of the channel's bucket (reply priority)


@runtime_checkable
class SharesItsRequests(Protocol):
    """A channel whose limit counts requests besides the sends (VK: every method, ``users.get`` and a photo's
    upload among them): each of those waits for a turn of the bot's bucket like a send, so all processes together
    stay within the limit rather than each adding its own on top."""

    def draw_turns_from(self, turn: RequestTurn) -> None: ...


@runtime_checkable
class ReachabilityProbe(Protocol):
    """A channel that can tell, before a first unsolicited message, whether the person allows it (VK)."""

    async def allows(self, account_id: str) -> bool | None:
        """True or False as the channel says; None when it could not tell (then the send itself decides)."""
        ...
