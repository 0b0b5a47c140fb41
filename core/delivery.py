"""The contract every channel's sender fulfils: render-ready message in, one of three outcomes out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from core.events import Channel
from core.templates import Rendered

# A message handed to a sender is leased for this long; if the process dies, another claims it after.
DELIVERY_LEASE = timedelta(minutes=2)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    UNREACHABLE = "unreachable"  # blocked the bot, no such account, no permission: try another channel
    RETRY = "retry"  # rate limited or a network fault: the same channel later
    FAILED = "failed"  # the channel refused this message for good (a bug on our side)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    retry_after: float | None = None
    detail: str = ""


DELIVERED = DeliveryResult(Outcome.DELIVERED)


class ChannelSender(Protocol):
    channel: Channel

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        """Send one rendered message; ``idempotency_key`` is stable across retries of the same message."""
        ...
