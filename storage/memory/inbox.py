"""The durable intake in memory: updates by (bot, update id), their leases, the dead ones, and each bot's cursor."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.ports.inbox import DeadUpdate, InboxEntry, NewUpdate
from storage.memory.table import Table, json_copy, utc
from storage.memory.workers import Workers


@dataclass(frozen=True)
class InboxRow:
    id: int
    bot: str
    update_id: str
    account_id: str | None
    raw: dict[str, Any] | None  # None once processed (or applied directly)
    attempts: int
    received_at: datetime
    due_at: datetime
    owner: str | None = None
    leased_until: datetime | None = None
    processed_at: datetime | None = None
    last_error: str | None = None
    dead_at: datetime | None = None

    def entry(self) -> InboxEntry:
        return InboxEntry(self.id, self.bot, self.update_id, self.account_id, json_copy(self.raw or {}),
                          self.attempts)

    @property
    def waiting(self) -> bool:
        return self.processed_at is None and self.dead_at is None


class InboxTables:
    def __init__(self) -> None:
        self.updates: Table[int, InboxRow] = Table("inbox", unique={"key": lambda r: (r.bot, r.update_id)})
        self.cursors: Table[str, str] = Table("inbox_cursors")

    def all(self) -> list[Table]:
        return [self.updates, self.cursors]


class MemoryInbox:
    def __init__(self, tables: InboxTables, workers: Workers) -> None:
        self._t = tables
        self._workers = workers

    async def add(self, bot: str, updates: list[NewUpdate], owner: str, now: datetime, *,
                  lease_until: datetime) -> list[InboxEntry | None]:
        added: list[InboxEntry | None] = []
        for update in updates:
            if self._t.updates.find("key", (bot, update.update_id)) is not None:
                added.append(None)
                continue
            row = InboxRow(self._t.updates.next_id(), bot, update.update_id, update.account_id,
                           json_copy(update.raw), 0, utc(now), utc(now), owner, utc(lease_until))
            added.append(self._t.updates.put(row.id, row).entry())
        return added

    async def claim_update(self, bot: str, update_id: str, now: datetime) -> bool:
        if self._t.updates.find("key", (bot, update_id)) is not None:
            return False
        row = InboxRow(self._t.updates.next_id(), bot, update_id, None, None, 0, utc(now), utc(now),
                       processed_at=utc(now))
        self._t.updates.put(row.id, row)
        return True

    async def finish(self, entry_id: int, now: datetime) -> bool:
        row = self._t.updates.get(entry_id)
        if row is None or not row.waiting:
            return False
        self._t.updates.put(row.id, replace(row, processed_at=utc(now), raw=None, owner=None, leased_until=None))
        return True

    async def fail(self, entry_id: int, error: str, retry_at: datetime) -> None:
        row = self._t.updates.one(entry_id)
        self._t.updates.put(row.id, replace(row, owner=None, leased_until=None, attempts=row.attempts + 1,
                                            last_error=error, due_at=utc(retry_at)))

    async def bury(self, entry_id: int, error: str, now: datetime) -> bool:
        row = self._t.updates.get(entry_id)
        if row is None or not row.waiting:
            return False
        self._t.updates.put(row.id, replace(row, owner=None, leased_until=None, attempts=row.attempts + 1,
                                            last_error=error[:1000], dead_at=utc(now)))
        return True

    async def revive(self, entry_id: int, now: datetime) -> bool:
        row = self._t.updates.get(entry_id)
        if row is None or row.dead_at is None or row.processed_at is not None:
            return False
        self._t.updates.put(row.id, replace(row, dead_at=None, attempts=0, due_at=utc(now), owner=None,
                                            leased_until=None))
        return True

    async def dead(self, limit: int) -> list[DeadUpdate]:
        rows = sorted(self._t.updates.where(lambda r: r.dead_at is not None and r.processed_at is None),
                      key=lambda r: (r.dead_at, r.id), reverse=True)[:limit]
        return [DeadUpdate(r.id, r.bot, r.update_id, r.account_id, json_copy(r.raw or {}), r.attempts,
                           r.last_error or "", r.received_at, r.dead_at) for r in rows if r.dead_at is not None]

    async def dead_count(self) -> int:
        return sum(1 for row in self._t.updates.rows() if row.dead_at is not None and row.processed_at is None)

    def _stale(self, row: InboxRow, now: datetime, alive_since: datetime) -> bool:
        if not row.waiting:
            return False
        if row.owner is None:
            return row.due_at <= now
        expired = row.leased_until is not None and row.leased_until <= now
        return expired or not self._workers.alive(row.owner, alive_since)

    async def claim_stale(self, now: datetime, owner: str, alive_since: datetime, limit: int, *,
                          lease_until: datetime) -> list[InboxEntry]:
        stale = sorted(self._t.updates.where(lambda r: self._stale(r, now, alive_since)), key=lambda r: r.id)[:limit]
        return [self._t.updates.put(r.id, replace(r, owner=owner, leased_until=utc(lease_until))).entry()
                for r in stale]

    async def pending(self) -> int:
        return sum(1 for row in self._t.updates.rows() if row.waiting)

    async def cursor(self, bot: str) -> str | None:
        return self._t.cursors.get(bot)

    async def save_cursor(self, bot: str, value: str) -> None:
        self._t.cursors.put(bot, value)

    async def purge(self, before: datetime) -> int:
        old = self._t.updates.where(lambda r: r.processed_at is not None and r.received_at < before)
        for row in old:
            self._t.updates.delete(row.id)
        return len(old)
