"""The scenario machines' timers in SQL: claimed with ``SKIP LOCKED``, fired once by whoever marks them first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from core.ports.person_owned import Moved
from core.ports.timers import Timer
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.tables.events import timers
from storage.tables.inbox import workers


def _timer(row: Any) -> Timer:
    return Timer(row.id, row.person_id, row.scenario, row.name, row.due_at, dict(row.data or {}), row.fired_at)


class SqlTimers:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def set(self, person_id: int, scenario: str, name: str, due_at: datetime,
                  data: dict[str, Any] | None = None) -> int:
        await self.cancel(person_id, scenario, name)
        return int(await self.db.scalar(insert(timers).values(
            person_id=person_id, scenario=scenario[:64], name=name[:64], due_at=due_at, data=data or {})
            .returning(timers.c.id)))

    async def cancel(self, person_id: int, scenario: str, name: str | None = None) -> int:
        query = delete(timers).where(timers.c.person_id == person_id, timers.c.scenario == scenario,
                                     timers.c.fired_at.is_(None))
        if name is not None:
            query = query.where(timers.c.name == name)
        return int((await self.db.execute(query)).rowcount or 0)

    async def pending(self, person_id: int) -> list[Timer]:
        rows = await self.db.rows(select(timers).where(timers.c.person_id == person_id, timers.c.fired_at.is_(None))
                                  .order_by(timers.c.due_at, timers.c.id))
        return [_timer(row) for row in rows]

    async def claim_due(self, now: datetime, worker_id: str, lease_until: datetime, dead_before: datetime,
                        limit: int) -> list[Timer]:
        alive = select(workers.c.id).where(workers.c.seen_at >= dead_before)
        rows = await self.db.rows(select(timers).where(
            timers.c.fired_at.is_(None), timers.c.due_at <= now,
            or_(timers.c.lease_owner.is_(None), timers.c.leased_until <= now,
                and_(timers.c.lease_owner != worker_id, timers.c.lease_owner.not_in(alive))))
            .order_by(timers.c.due_at, timers.c.id).limit(limit).with_for_update(skip_locked=True))
        if rows:
            await self.db.execute(update(timers).where(timers.c.id.in_([row.id for row in rows])).values(
                lease_owner=worker_id, leased_until=lease_until))
        return [_timer(row) for row in rows]

    async def fire(self, timer_id: int, now: datetime) -> bool:
        result = await self.db.execute(update(timers).where(timers.c.id == timer_id, timers.c.fired_at.is_(None))
                                       .values(fired_at=now, lease_owner=None, leased_until=None))
        return bool(result.rowcount)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, (timers,), absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, (timers,), moved, person_id)
