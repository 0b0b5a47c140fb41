"""Domain events, consumers' positions and the machines' timers in memory (one writer: ids are the order)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.domain_events import DomainEvent
from core.ports.events import START, Position
from core.ports.person_owned import Moved
from core.ports.timers import Timer
from storage.memory.table import Table, json_copy, reassign_rows, restore_rows, utc
from storage.memory.workers import Workers


@dataclass(frozen=True)
class TimerRow:
    id: int
    person_id: int
    scenario: str
    name: str
    due_at: datetime
    data: dict[str, Any]
    fired_at: datetime | None = None
    lease_owner: str | None = None
    leased_until: datetime | None = None

    def timer(self) -> Timer:
        return Timer(self.id, self.person_id, self.scenario, self.name, self.due_at, json_copy(self.data),
                     self.fired_at)


class EventTables:
    def __init__(self) -> None:
        self.events: Table[int, DomainEvent] = Table("domain_events")
        self.cursors: Table[str, Position] = Table("event_cursors")
        self.timers: Table[int, TimerRow] = Table("timers")

    def all(self) -> list[Table]:  # type: ignore[type-arg]
        return [self.events, self.cursors, self.timers]


class MemoryEvents:
    def __init__(self, tables: EventTables) -> None:
        self._t = tables
        self._added: list[DomainEvent] = []

    def add(self, event: DomainEvent) -> None:
        self._added.append(event)
        row_id = self._t.events.next_id()
        self._t.events.put(row_id, replace(event, id=row_id, occurred_at=utc(event.occurred_at),
                                           data=json_copy(dict(event.data))))

    @property
    def added(self) -> list[DomainEvent]:
        return list(self._added)

    async def after(self, position: Position, limit: int,
                    kinds: Collection[str] | None = None) -> list[tuple[Position, DomainEvent]]:
        found = [e for key, e in self._t.events.items()
                 if (0, key) > position and (kinds is None or e.kind in kinds)]
        return [((0, e.id), e) for e in found[:limit]]

    async def hold(self, consumer: str) -> Position | None:
        return self._t.cursors.get(consumer) or START

    async def advance(self, consumer: str, position: Position) -> None:
        self._t.cursors.put(consumer, position)

    async def of_person(self, person_id: int, limit: int = 100) -> list[DomainEvent]:
        return list(reversed(self._t.events.where(lambda e: e.person_id == person_id)))[:limit]


class MemoryTimers:
    def __init__(self, tables: EventTables, workers: Workers) -> None:
        self._timers = tables.timers
        self._workers = workers

    async def set(self, person_id: int, scenario: str, name: str, due_at: datetime,
                  data: dict[str, Any] | None = None) -> int:
        await self.cancel(person_id, scenario, name)
        row_id = self._timers.next_id()
        self._timers.put(row_id, TimerRow(row_id, person_id, scenario[:64], name[:64], utc(due_at),
                                          json_copy(data or {})))
        return row_id

    async def cancel(self, person_id: int, scenario: str, name: str | None = None) -> int:
        gone = self._timers.where(lambda t: t.person_id == person_id and t.scenario == scenario
                                  and t.fired_at is None and (name is None or t.name == name))
        for row in gone:
            self._timers.delete(row.id)
        return len(gone)

    async def pending(self, person_id: int) -> list[Timer]:
        rows = self._timers.where(lambda t: t.person_id == person_id and t.fired_at is None)
        return [row.timer() for row in sorted(rows, key=lambda t: (t.due_at, t.id))]

    async def claim_due(self, now: datetime, worker_id: str, lease_until: datetime, dead_before: datetime,
                        limit: int) -> list[Timer]:
        def free(t: TimerRow) -> bool:
            return (t.lease_owner is None or (t.leased_until is not None and t.leased_until <= now)
                    or (t.lease_owner != worker_id and not self._workers.alive(t.lease_owner, dead_before)))

        rows = sorted(self._timers.where(lambda t: t.fired_at is None and t.due_at <= now and free(t)),
                      key=lambda t: (t.due_at, t.id))[:limit]
        for row in rows:
            self._timers.put(row.id, replace(row, lease_owner=worker_id, leased_until=utc(lease_until)))
        return [row.timer() for row in rows]

    async def fire(self, timer_id: int, now: datetime) -> bool:
        row = self._timers.get(timer_id)
        if row is None or row.fired_at is not None:
            return False
        self._timers.put(timer_id, replace(row, fired_at=utc(now), lease_owner=None, leased_until=None))
        return True

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return reassign_rows([self._timers], absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return restore_rows([self._timers], moved, person_id)
