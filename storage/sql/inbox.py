"""The durable intake and the live-workers table in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.ports.inbox import DeadUpdate, InboxEntry, NewUpdate
from storage.sql.db import Db
from storage.tables.inbox import inbox, inbox_cursors, workers

_waiting = and_(inbox.c.processed_at.is_(None), inbox.c.dead_at.is_(None))  # neither processed nor given up on
_dead = and_(inbox.c.processed_at.is_(None), inbox.c.dead_at.is_not(None))
_finish = update(inbox).where(inbox.c.id == bindparam("id_"), _waiting).values(
    processed_at=bindparam("now"), raw=None, lease_owner=None, leased_until=None)


def _entry(row: Any) -> InboxEntry:
    return InboxEntry(row.id, row.bot, row.update_id, row.account_id, dict(row.raw or {}), row.attempts)


_DIALECTS = (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
_claim_update = {dialect: insert(inbox).on_conflict_do_nothing() for dialect, insert in _DIALECTS}
# one statement for any batch: a redelivered update keeps its first row and returns no id
_add = {dialect: insert(inbox).on_conflict_do_nothing().returning(inbox.c.update_id, inbox.c.id)
        for dialect, insert in _DIALECTS}


class SqlInbox:
    def __init__(self, db: Db) -> None:
        self.db = db
        self._insert = sqlite_insert if db.dialect == "sqlite" else postgresql_insert

    async def add(self, bot: str, updates: list[NewUpdate], owner: str, now: datetime, *,
                  lease_until: datetime) -> list[InboxEntry | None]:
        firsts: dict[str, NewUpdate] = {}
        for new in updates:
            firsts.setdefault(new.update_id[:64], new)
        if not firsts:
            return []
        rows = [{"bot": bot, "update_id": key, "account_id": new.account_id, "raw": new.raw, "received_at": now,
                 "attempts": 0, "lease_owner": owner, "leased_until": lease_until} for key, new in firsts.items()]
        stored = {row.update_id: row.id for row in await self.db.rows(_add[self.db.dialect], rows)}
        entries: list[InboxEntry | None] = []
        for new in updates:
            entry_id = stored.pop(new.update_id[:64], None)  # pop: a repeat within the batch is a redelivery too
            entries.append(None if entry_id is None else InboxEntry(entry_id, bot, new.update_id[:64],
                                                                    new.account_id, new.raw, 0))
        return entries

    async def claim_update(self, bot: str, update_id: str, now: datetime) -> bool:
        result = await self.db.execute(_claim_update[self.db.dialect], {
            "bot": bot, "update_id": update_id[:64], "received_at": now, "processed_at": now, "attempts": 0})
        return bool(result.rowcount)

    async def finish(self, entry_id: int, now: datetime) -> bool:
        result = await self.db.execute(_finish, {"id_": entry_id, "now": now})
        return bool(result.rowcount)

    async def fail(self, entry_id: int, error: str, retry_at: datetime) -> None:
        await self.db.execute(update(inbox).where(inbox.c.id == entry_id).values(
            lease_owner=None, leased_until=retry_at, attempts=inbox.c.attempts + 1, last_error=error[:1000]))

    async def bury(self, entry_id: int, error: str, now: datetime) -> bool:
        result = await self.db.execute(update(inbox).where(inbox.c.id == entry_id, _waiting).values(
            lease_owner=None, leased_until=None, attempts=inbox.c.attempts + 1, last_error=error[:1000], dead_at=now))
        return bool(result.rowcount)

    async def revive(self, entry_id: int, now: datetime) -> bool:
        result = await self.db.execute(update(inbox).where(inbox.c.id == entry_id, _dead).values(
            dead_at=None, attempts=0, lease_owner=None, leased_until=now))
        return bool(result.rowcount)

    async def dead(self, limit: int) -> list[DeadUpdate]:
        rows = await self.db.rows(select(inbox).where(_dead).order_by(inbox.c.dead_at.desc(), inbox.c.id.desc())
                                  .limit(limit))
        return [DeadUpdate(row.id, row.bot, row.update_id, row.account_id, dict(row.raw or {}), row.attempts,
                           row.last_error or "", row.received_at, row.dead_at) for row in rows]

    async def dead_count(self) -> int:
        return int(await self.db.scalar(select(func.count()).select_from(inbox).where(_dead)) or 0)

    async def claim_stale(self, now: datetime, owner: str, alive_since: datetime, limit: int, *,
                          lease_until: datetime) -> list[InboxEntry]:
        alive = select(workers.c.id).where(workers.c.seen_at >= alive_since)
        rows = await self.db.rows(select(inbox).where(_waiting, or_(
            and_(inbox.c.lease_owner.is_(None), or_(inbox.c.leased_until.is_(None), inbox.c.leased_until <= now)),
            inbox.c.lease_owner.not_in(alive),
            inbox.c.leased_until <= now)).order_by(inbox.c.id).limit(limit).with_for_update(skip_locked=True))
        if rows:
            await self.db.execute(update(inbox).where(inbox.c.id.in_([row.id for row in rows])).values(
                lease_owner=owner, leased_until=lease_until))
        return [_entry(row) for row in rows]

    async def pending(self) -> int:
        return int(await self.db.scalar(select(func.count()).select_from(inbox).where(_waiting)) or 0)

    async def cursor(self, bot: str) -> str | None:
        return await self.db.scalar(select(inbox_cursors.c.value).where(inbox_cursors.c.bot == bot))

    async def save_cursor(self, bot: str, value: str) -> None:
        statement = self._insert(inbox_cursors).values(bot=bot, value=value, updated_at=func.now())
        await self.db.execute(statement.on_conflict_do_update(index_elements=[inbox_cursors.c.bot],
                                                              set_={"value": value}))

    async def purge(self, before: datetime) -> int:
        result = await self.db.execute(delete(inbox).where(inbox.c.processed_at.is_not(None),
                                                           inbox.c.received_at < before))
        return int(result.rowcount)


class SqlWorkers:
    def __init__(self, db: Db) -> None:
        self.db = db
        self._insert = sqlite_insert if db.dialect == "sqlite" else postgresql_insert

    async def beat(self, worker_id: str, now: datetime) -> None:
        statement = self._insert(workers).values(id=worker_id, started_at=now, seen_at=now)
        await self.db.execute(statement.on_conflict_do_update(index_elements=[workers.c.id], set_={"seen_at": now}))

    async def forget(self, worker_id: str) -> None:
        await self.db.execute(delete(workers).where(workers.c.id == worker_id))

    async def forget_others(self, worker_id: str) -> int:
        result = await self.db.execute(delete(workers).where(workers.c.id != worker_id))
        return int(result.rowcount)
