"""Channel health as stored: every change of a channel's state, measured or set by staff, newest last.

A manager marks a channel down for a national outage ("Telegram blocked since 10:00") and up
again; the platform logs what it measured (a channel whose sends time out goes down, and comes
back once a probe gets through). The current manual mark of a channel is its latest manual
change unless that change set it healthy again; every process reads the marks, so one mark
reaches them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.channels import ChannelName

REASON_LENGTH = 500  # what is stored of a reason
BY_LENGTH = 120


class ChannelState(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"  # failing often, still used (and probed back after being down)
    DOWN = "down"  # skipped by the router: "channel down"


@dataclass(frozen=True)
class HealthChange:
    channel: ChannelName
    state: ChannelState
    reason: str
    by: str  # "measured", or who set it (a staff login, "cli")
    at: datetime
    manual: bool
    id: int = 0  # set once stored


class ChannelHealthRepository(Protocol):
    async def record(self, change: HealthChange) -> None:
        """Append a change (measured or manual) to the log."""
        ...

    async def marks(self) -> dict[ChannelName, HealthChange]:
        """Each channel's standing manual mark: its latest manual change, unless that set it healthy."""
        ...

    async def history(self, channel: ChannelName | None = None, limit: int = 50) -> list[HealthChange]:
        """Changes, newest first (of one channel, when given)."""
        ...
