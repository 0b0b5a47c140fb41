"""Where messages went and why: the router's decisions with their reasons, people's channel preferences,
and how each of a person's channels has served them so far."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.channels import ChannelName
from core.ports.person_owned import Moved
from core.ports.personal_data import ERASED, ErasureSubject, blank


@dataclass(frozen=True)
class Candidate:
    """One of the person's accounts as the router saw it: its score and what made it, or why it was dropped."""

    channel: ChannelName
    account_id: str
    score: float | None = None  # None: dropped
    factors: dict[str, float] = field(default_factory=dict)  # recency, success, ack, preference, cost
    dropped: str | None = None  # blocked the bot, bounced, unsubscribed, not verified, no sender…
    outcome: str | None = None  # what sending on it gave: delivered, unreachable: …, retry: …

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "account_id": self.account_id, "score": self.score,
                "factors": self.factors, "dropped": self.dropped, "outcome": self.outcome}

    def erased(self, subject: ErasureSubject) -> Candidate:
        """Without the person (152-FZ): the account's id goes; its channel, points and the reasons stay, without
        the addresses they may name."""
        return replace(self, account_id=ERASED, dropped=blank(self.dropped, subject),
                       outcome=blank(self.outcome, subject))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        return cls(ChannelName(data["channel"]), str(data["account_id"]), data.get("score"),
                   dict(data.get("factors") or {}), data.get("dropped"), data.get("outcome"))


class RouteOutcome(StrEnum):
    """What one routing ended in (a gate that held or dropped the message stores its own reason instead)."""

    DELIVERED = "delivered"
    RETRY = "retry"  # the channel said "later": the same account again
    UNREACHABLE = "unreachable"  # every usable account refused
    UNDELIVERABLE = "undeliverable"  # no usable account at all


@dataclass(frozen=True)
class RouteDecision:
    """One routing of one message (round 0, then one per re-send): every candidate, and where it went."""

    message_id: int
    person_id: int
    round: int
    decided_at: datetime
    candidates: tuple[Candidate, ...]
    channel: ChannelName | None  # where it was delivered (or last tried); None: nowhere
    account_id: str | None
    outcome: str  # a RouteOutcome, or the reason (core.gates.Reason) of the gate that held or dropped it
    detail: str = ""
    id: int = 0  # set once stored


@dataclass(frozen=True)
class ChannelRecord:
    """How one channel of a person has done: deliveries, failures, and answers to messages that asked for one."""

    delivered: int = 0
    failed: int = 0
    acknowledged: int = 0
    asked: int = 0  # delivered messages that asked for an answer


@dataclass(frozen=True)
class Preference:
    person_id: int
    channel: ChannelName | None  # None: let the router choose
    time_zone: str | None  # for quiet hours; None: the campaign's
    updated_at: datetime


class RouteRepository(Protocol):
    def record(self, decisions: list[RouteDecision]) -> None:
        """Keep these decisions (written at commit)."""
        ...
    async def decisions(self, *, person_id: int | None = None, message_id: int | None = None,
                        message_ids: list[int] | None = None, limit: int = 100) -> list[RouteDecision]:
        """A person's or some messages' decisions, newest first."""
        ...
    async def records(self, person_ids: list[int]) -> dict[int, dict[ChannelName, ChannelRecord]]:
        """Per person and channel, how past deliveries went (from the decisions and the answers)."""
        ...

    async def prefer(self, person_id: int, channel: ChannelName | None, now: datetime) -> None: ...
    async def set_time_zone(self, person_id: int, time_zone: str | None, now: datetime) -> None: ...
    async def preferences(self, person_ids: list[int]) -> dict[int, Preference]: ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
