"""The router's decisions, people's channel preferences and their channels' records, in memory."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from core.channels import ChannelName
from core.delivery import MessageStatus
from core.ports.person_owned import Moved
from core.ports.personal_data import ErasureSubject, blank
from core.ports.routes import ChannelRecord, Preference, RouteDecision
from storage.memory.messages import OutboxRow
from storage.memory.table import Table, reassign_rows, restore_rows, utc

ANSWERABLE = (MessageStatus.AWAITING_ACK, MessageStatus.ACKNOWLEDGED, MessageStatus.UNREACHED)


@dataclass(frozen=True)
class DecisionRow:
    id: int
    person_id: int
    decision: RouteDecision


@dataclass(frozen=True)
class PreferenceRow:
    id: int
    person_id: int
    channel: ChannelName | None
    time_zone: str | None
    updated_at: datetime


class RouteTables:
    def __init__(self) -> None:
        self.decisions: Table[int, DecisionRow] = Table("route_decisions")
        self.preferences: Table[int, PreferenceRow] = Table("channel_preferences",
                                                            unique={"person": lambda p: p.person_id})

    def all(self) -> list[Table]:
        return [self.decisions, self.preferences]


class MemoryRoutes:
    def __init__(self, tables: RouteTables, persons: Table, outbox: Table[int, OutboxRow]) -> None:
        self._t = tables
        self._persons = persons
        self._outbox = outbox

    def record(self, decisions: list[RouteDecision]) -> None:
        for decision in decisions:
            self._persons.one(decision.person_id)
            row_id = self._t.decisions.next_id()
            stored = replace(decision, id=row_id, decided_at=utc(decision.decided_at), outcome=decision.outcome[:16])
            self._t.decisions.put(row_id, DecisionRow(row_id, decision.person_id, stored))

    async def decisions(self, *, person_id: int | None = None, message_id: int | None = None,
                        message_ids: list[int] | None = None, limit: int = 100) -> list[RouteDecision]:
        wanted = None if message_ids is None else set(message_ids)
        rows = self._t.decisions.where(lambda r: (person_id is None or r.person_id == person_id)
                                       and (message_id is None or r.decision.message_id == message_id)
                                       and (wanted is None or r.decision.message_id in wanted))
        return [replace(r.decision, person_id=r.person_id)
                for r in sorted(rows, key=lambda r: r.id, reverse=True)[:limit]]

    async def records(self, person_ids: list[int]) -> dict[int, dict[ChannelName, ChannelRecord]]:
        wanted = set(person_ids)
        counts: dict[int, dict[ChannelName, dict[str, int]]] = {}
        for row in self._t.decisions.where(lambda r: r.person_id in wanted and r.decision.channel is not None):
            mine = counts.setdefault(row.person_id, {}).setdefault(row.decision.channel, {})  # type: ignore[arg-type]
            key = "delivered" if row.decision.outcome == "delivered" else "failed"
            mine[key] = mine.get(key, 0) + 1
        for message in self._outbox.where(lambda m: m.person_id in wanted and m.ack_window_seconds is not None
                                          and m.channel is not None and m.status in ANSWERABLE):
            mine = counts.setdefault(message.person_id, {}).setdefault(message.channel, {})  # type: ignore[arg-type]
            mine["asked"] = mine.get("asked", 0) + 1
            mine["acknowledged"] = mine.get("acknowledged", 0) + (message.acked_at is not None)
        return {person: {channel: ChannelRecord(**values) for channel, values in channels.items()}
                for person, channels in counts.items()}

    def _upsert(self, person_id: int, now: datetime, **values: object) -> None:
        self._persons.one(person_id)
        row = self._t.preferences.find("person", person_id)
        if row is None:
            row = PreferenceRow(self._t.preferences.next_id(), person_id, None, None, utc(now))
        self._t.preferences.put(row.id, replace(row, updated_at=utc(now), **values))  # type: ignore[arg-type]

    async def prefer(self, person_id: int, channel: ChannelName | None, now: datetime) -> None:
        self._upsert(person_id, now, channel=channel)

    async def set_time_zone(self, person_id: int, time_zone: str | None, now: datetime) -> None:
        self._upsert(person_id, now, time_zone=time_zone)

    async def preferences(self, person_ids: list[int]) -> dict[int, Preference]:
        found = {}
        for person_id in person_ids:
            row = self._t.preferences.find("person", person_id)
            if row is not None:
                found[person_id] = Preference(person_id, row.channel, row.time_zone, row.updated_at)
        return found

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """See ``storage.sql.routes``: channels, points and outcomes stay; account ids and addresses go."""
        rows = self._t.decisions.where(lambda r: r.person_id == subject.person_id)
        for row in rows:
            decision = replace(row.decision, account_id=None, detail=blank(row.decision.detail, subject) or "",
                               candidates=tuple(c.erased(subject) for c in row.decision.candidates))
            self._t.decisions.put(row.id, replace(row, decision=decision))
        return len(rows)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        tables: list[Table] = [self._t.decisions]
        if self._t.preferences.find("person", survivor_id) is None:
            tables.append(self._t.preferences)
        return reassign_rows(tables, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows(self._t.all(), moved, person_id)
