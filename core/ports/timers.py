"""Timers: "wake this machine of this person at T", stored, so that a restart keeps them and each fires once.

A timer belongs to one scenario of one person and has a name (the machine's transitions name
it); setting a timer again under the same name moves it. ``claim_due`` leases due timers to
a worker (a dead worker's lease ends at once); ``fire`` marks one fired and says whether this
caller was the first, in the same transaction as what the machine does, so with two
processes only one of them does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.ports.person_owned import Moved


@dataclass
class Timer:
    id: int
    person_id: int
    scenario: str
    name: str
    due_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    fired_at: datetime | None = None


class TimerRepository(Protocol):
    async def set(self, person_id: int, scenario: str, name: str, due_at: datetime,
                  data: dict[str, Any] | None = None) -> int:
        """Wake ``scenario`` of the person at ``due_at`` with ``name`` (an earlier unfired one of that name goes)."""
        ...

    async def cancel(self, person_id: int, scenario: str, name: str | None = None) -> int:
        """Unfired timers of the scenario (of that name only, when given) go; how many."""
        ...

    async def pending(self, person_id: int) -> list[Timer]:
        """The person's unfired timers, soonest first."""
        ...

    async def claim_due(self, now: datetime, worker_id: str, lease_until: datetime, dead_before: datetime,
                        limit: int) -> list[Timer]:
        """Due, unfired timers nobody alive holds, leased to ``worker_id``."""
        ...

    async def fire(self, timer_id: int, now: datetime) -> bool:
        """Mark the timer fired; False when it was fired (or cancelled) already: then do nothing."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
