"""Staff marking a whole channel down or up, and how each channel stands: for the console and the command line.

A mark is for what the platform cannot measure from its own sends: Telegram blocked nationally
while its API still answers our server, or a channel to be rested during an incident. It holds
until someone marks the channel up; every process heeds it within seconds (``HealthWatch``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.channels import ChannelName
from core.ports import UnitOfWork
from core.ports.channel_health import REASON_LENGTH, ChannelState, HealthChange


class MarkError(ValueError):
    """A mark that cannot be set, with a message for the person who tried."""


@dataclass(frozen=True)
class ChannelStanding:
    channel: ChannelName
    state: ChannelState  # the mark's when there is one, else the latest measured
    mark: HealthChange | None  # a manager's standing mark
    measured: HealthChange | None  # the latest measured change (from any process)

    @property
    def reason(self) -> str:
        shown = self.mark or self.measured
        return shown.reason if shown is not None else ""


async def mark_channel(tx: UnitOfWork, channel: str, state: ChannelState, reason: str, by: str, now: datetime,
                       known: Collection[str]) -> HealthChange:
    """Set a manual mark. ``DOWN`` and ``DEGRADED`` need a reason, shown with every message routed past it."""
    if channel not in known:
        raise MarkError(f"unknown channel {channel!r}: one of {', '.join(sorted(known))}")
    reason = " ".join(reason.split())
    if state is not ChannelState.HEALTHY and not reason:
        raise MarkError("say why the channel is down (it is stored with every message routed past it)")
    if len(reason) > REASON_LENGTH:
        raise MarkError(f"the reason is longer than {REASON_LENGTH} characters")
    marks = await tx.channel_health.marks()
    if state is ChannelState.HEALTHY and channel not in marks:
        raise MarkError(f"{channel} is not marked: nothing to lift")
    change = HealthChange(ChannelName(channel), state, reason or "marked up", by, now, manual=True)
    await tx.channel_health.record(change)
    return change


async def standings(tx: UnitOfWork, channels: Sequence[str]) -> list[ChannelStanding]:
    """Each channel's state: its mark, else its latest measured change."""
    marks = await tx.channel_health.marks()
    found = []
    for name in channels:
        mark = marks.get(ChannelName(name))
        recent = await tx.channel_health.history(ChannelName(name), limit=50)
        latest = next((change for change in recent if not change.manual), None)
        state = mark.state if mark else (latest.state if latest else ChannelState.HEALTHY)
        found.append(ChannelStanding(ChannelName(name), state, mark, latest))
    return found
