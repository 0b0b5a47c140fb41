"""Frequency caps (issue 18 §3): at most so many broadcast messages per person per calendar day and per calendar
week (Monday to Sunday) in the person's own time zone, across all channels and, where set, per channel.

Only broadcasts count and only broadcasts are capped: replies, codes, receipt answers, payouts and winner
notices are transactional and always go. A message over a cross-channel cap ends as ``capped`` (it is not
sent later: a broadcast a day late is another broadcast); one over a channel's own cap skips that channel and
the router tries the person's others. What counts is what was delivered in the window plus what is in flight
ahead of this message (claimed earlier, by any worker): two broadcasts claimed together cannot both take the
last place — the earlier one goes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.advertising import SENDS_LOOKBACK
from core.channels import ChannelName
from core.gates import GO, Reason, Ruling, Situation, Verdict, zone_named
from core.identity import ChannelAccount
from core.ports import UnitOfWork
from core.ports.messages import BroadcastSend

PERIODS = {"day": 1, "week": 7}
_TERM = re.compile(r"^(?:(?P<channel>[a-z][a-z0-9_]*):)?(?P<count>\d+)/(?P<period>day|week)$")


@dataclass(frozen=True)
class Cap:
    count: int
    period: str  # "day" or "week"
    channel: ChannelName | None = None  # None: all channels together

    def __str__(self) -> str:
        return f"{self.channel + ':' if self.channel else ''}{self.count}/{self.period}"


@dataclass(frozen=True)
class FrequencyCaps:
    caps: tuple[Cap, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FrequencyCaps:
        """``3/day, 10/week, sms:1/day``; empty or ``off``: no caps."""
        text = text.strip().lower()
        if text in ("", "off", "none"):
            return cls()
        caps: list[Cap] = []
        for term in (t.strip() for t in text.split(",")):
            found = _TERM.match(term)
            if found is None:
                raise ValueError(f"expected terms like 3/day, 10/week or sms:1/day, got {term!r}")
            channel = found["channel"]
            caps.append(Cap(int(found["count"]), found["period"], ChannelName(channel) if channel else None))
        return cls(tuple(caps))

    def __str__(self) -> str:
        return ", ".join(map(str, self.caps)) or "off"

    @property
    def across(self) -> tuple[Cap, ...]:
        return tuple(c for c in self.caps if c.channel is None)

    def of_channel(self, channel: ChannelName) -> tuple[Cap, ...]:
        return tuple(c for c in self.caps if c.channel == channel)


def period_start(now: datetime, period: str, zone: ZoneInfo) -> datetime:
    """The start of this calendar day or week (Monday) in ``zone``, as an aware time."""
    local = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        local -= timedelta(days=local.weekday())
    return local


def counted(sends: Sequence[BroadcastSend], message_id: int, since: datetime,
            channel: ChannelName | None = None) -> int:
    """Broadcast messages that take a place under a cap: delivered since ``since``, or in flight ahead of this one."""
    return sum(1 for s in sends if s.message_id != message_id and (channel is None or s.channel == channel)
               and (s.sent_at >= since if s.sent_at is not None else s.message_id < message_id))


def reached(caps: Sequence[Cap], sends: Sequence[BroadcastSend], message_id: int, now: datetime, zone: ZoneInfo,
            channel: ChannelName | None = None) -> Cap | None:
    """The first of ``caps`` that message ``message_id`` would go over, each period counted in ``zone``."""
    for cap in caps:
        if counted(sends, message_id, period_start(now, cap.period, zone), channel) >= cap.count:
            return cap
    return None


def over(caps: Sequence[Cap], situation: Situation, channel: ChannelName | None = None) -> Cap | None:
    marketing = situation.facts.marketing
    sends = marketing.sends if marketing is not None else ()
    return reached(caps, sends, situation.message.id, situation.now, situation.zone, channel)


@dataclass(frozen=True)
class FrequencyCapGate:
    """Across channels: the message ends ``capped``."""

    caps: FrequencyCaps = field(default_factory=FrequencyCaps)

    def check(self, situation: Situation) -> Ruling:
        if situation.message.broadcast_id is None or not self.caps.across:
            return GO
        cap = over(self.caps.across, situation)
        if cap is None:
            return GO
        return Ruling(Verdict.DROP, Reason.CAPPED, detail=f"{cap} reached")


@dataclass(frozen=True)
class ChannelCapGate:
    """One channel's own cap: that channel is skipped, the person's others may carry it."""

    caps: FrequencyCaps = field(default_factory=FrequencyCaps)

    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        if situation.message.broadcast_id is None:
            return GO
        caps = self.caps.of_channel(account.channel)
        if not caps:
            return GO
        cap = over(caps, situation, account.channel)
        if cap is None:
            return GO
        return Ruling(Verdict.SKIP, Reason.CAPPED, detail=f"capped: {cap} reached")


async def at_cap(tx: UnitOfWork, person_ids: list[int], caps: FrequencyCaps, now: datetime,
                 zone: ZoneInfo) -> set[int]:
    """Of these people, those a broadcast starting now would find at a cap across channels (what they were sent
    in the window, and what is in flight to them), each in their own time zone or else ``zone``."""
    if not caps.across or not person_ids:
        return set()
    sends = await tx.messages.broadcast_sends(person_ids, now - SENDS_LOOKBACK)
    preferences = await tx.routes.preferences(person_ids)
    found = set()
    for person_id in person_ids:
        preference = preferences.get(person_id)
        own = zone_named(preference.time_zone if preference is not None else None, zone)
        # a new broadcast's message comes after everything in flight: each of those takes its place first
        if reached(caps.across, sends.get(person_id, []), sys.maxsize, now, own) is not None:
            found.add(person_id)
    return found
