"""The delivery policy: small gates every message the router places passes, in order, before it is ranked and sent.

A gate is pure: it is given the message, what is known of the person and their channels, and
the time, and it rules **go**, **hold** until a time, **skip** this channel, or **drop** the
message, always with a reason. Message gates (a deadline that passed, quiet hours, and what
comes next: send windows, frequency caps) rule on the message; account gates (a channel not
running, an account the person cannot be reached on, an address never proved, and next a
channel that is down or a session window that closed) rule on one of the person's accounts.
What passes is ranked by ``core.router``; every ruling that is not "go" is stored with the
routing decision, as the router's own reasons are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.channels import ChannelName, ChannelProfile
from core.identity import ChannelAccount
from core.ports.messages import QueuedMessage
from core.ports.routes import Candidate
from core.router import Facts


class Verdict(StrEnum):
    GO = "go"
    HOLD = "hold"  # not now: the message waits until ``Ruling.until``
    SKIP = "skip"  # not on this account: the router ranks the others
    DROP = "drop"  # not at all: the message ends here


class Reason(StrEnum):
    """Why a gate did not say go: the words stored with the decision (the same as before gates had names)."""

    DEADLINE = "deadline"
    QUIET_HOURS = "quiet_hours"
    CHANNEL_NOT_RUNNING = "channel not running"
    CHANNEL_DOWN = "channel down"
    UNREACHABLE = "unreachable"
    NOT_VERIFIED = "not verified"
    SESSION_WINDOW = "session window closed"
    NEWS_STOPPED = "news stopped"  # a broadcast, where the person withdrew advertising consent (/stop)
    NO_ADVERTISING_CONSENT = "no advertising consent"  # an advertising broadcast, where it was never given
    CAPPED = "capped"  # a broadcast over the person's frequency cap (``core.gates.caps``)


@dataclass(frozen=True)
class Ruling:
    verdict: Verdict
    reason: Reason | None = None
    until: datetime | None = None  # HOLD: when the message may go
    detail: str = ""  # what a person reading the decision needs beyond the reason

    @property
    def text(self) -> str:
        return self.detail or (self.reason.value if self.reason else self.verdict.value)


GO = Ruling(Verdict.GO)


@dataclass(frozen=True)
class Situation:
    """What the gates are given about one message: its person's accounts and record, the channels that run, the
    person's time zone, and the time."""

    message: QueuedMessage
    facts: Facts
    profiles: Mapping[ChannelName, ChannelProfile]
    zone: ZoneInfo
    now: datetime
    down: Mapping[ChannelName, str] = field(default_factory=dict)  # channels down as a whole, with why

    @property
    def escalating(self) -> bool:
        """It was delivered before and is being sent again, unanswered."""
        return bool(self.message.tried)


class MessageGate(Protocol):
    def check(self, situation: Situation) -> Ruling:
        """GO, HOLD or DROP for the whole message."""
        ...


class AccountGate(Protocol):
    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        """GO or SKIP for one of the person's accounts."""
        ...


def zone_named(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The person's zone by its name; ``default`` when they named none or one no longer known."""
    if name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(name)
    return default


@dataclass(frozen=True)
class DeliveryPolicy:
    """The gates, in the order they rule; the zone for people who named none."""

    message_gates: Sequence[MessageGate] = ()
    account_gates: Sequence[AccountGate] = ()
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Moscow"))

    def zone_of(self, name: str | None) -> ZoneInfo:
        return zone_named(name, self.zone)

    def ruling(self, situation: Situation) -> Ruling:
        """The first message gate's ruling that is not GO (GO when every gate lets it through)."""
        for gate in self.message_gates:
            ruling = gate.check(situation)
            if ruling.verdict is not Verdict.GO:
                return ruling
        return GO

    def screen(self, situation: Situation) -> tuple[list[ChannelAccount], list[Candidate]]:
        """The accounts every account gate lets through, and the others as dropped candidates with the reason."""
        usable: list[ChannelAccount] = []
        dropped: list[Candidate] = []
        for account in situation.facts.accounts:
            ruling = next((r for gate in self.account_gates
                           if (r := gate.check(situation, account)).verdict is not Verdict.GO), GO)
            if ruling.verdict is Verdict.GO:
                usable.append(account)
            else:
                dropped.append(Candidate(account.channel, account.external_id, dropped=ruling.text))
        return usable, dropped
