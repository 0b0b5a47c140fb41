"""Domain events as stored: appended in the unit of work that caused them, read back in order by consumers.

A consumer (the machines that wait for events, later the webhooks) keeps its own position and
moves it in the same transaction as what it did with the events, so each event is handled
once, also across restarts. On PostgreSQL transactions commit in another order than they took
their ids; ``after`` therefore returns only events no transaction still running could precede,
so a consumer never moves past an event that is about to appear.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from core.domain_events import DomainEvent

Position = tuple[int, int]  # opaque to consumers: where in the stored order a consumer is
START: Position = (0, 0)


class EventRepository(Protocol):
    def add(self, event: DomainEvent) -> None:
        """Store ``event`` with this unit of work (written at commit)."""
        ...

    @property
    def added(self) -> list[DomainEvent]:
        """The events added in this unit of work (handed to the bus once it commits)."""
        ...

    async def after(self, position: Position, limit: int,
                    kinds: Collection[str] | None = None) -> list[tuple[Position, DomainEvent]]:
        """Stored events after ``position`` in the order consumers see them, each with its own position."""
        ...

    async def hold(self, consumer: str) -> Position | None:
        """The consumer's position, held for this unit of work; None while another worker holds it."""
        ...

    async def advance(self, consumer: str, position: Position) -> None:
        """Move the held consumer to ``position`` (committed with the unit of work)."""
        ...

    async def of_person(self, person_id: int, limit: int = 100) -> list[DomainEvent]:
        """A person's events, newest first."""
        ...
