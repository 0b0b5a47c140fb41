"""Channel health log in SQL: appended to, never changed; marks are each channel's latest manual row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from core.channels import ChannelName
from core.ports.channel_health import BY_LENGTH, REASON_LENGTH, ChannelState, HealthChange
from storage.sql.db import Db
from storage.tables.channel_health import channel_health_log as log_


def _change(row: Any) -> HealthChange:
    return HealthChange(ChannelName(row.channel), ChannelState(row.state), row.reason, row.changed_by, row.at,
                        row.manual, row.id)


class SqlChannelHealth:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def record(self, change: HealthChange) -> None:
        await self.db.execute(insert(log_).values(
            channel=change.channel, state=change.state.value, reason=change.reason[:REASON_LENGTH],
            changed_by=change.by[:BY_LENGTH], at=change.at, manual=change.manual))

    async def marks(self) -> dict[ChannelName, HealthChange]:
        latest = (select(func.max(log_.c.id)).where(log_.c.manual.is_(True))
                  .group_by(log_.c.channel).scalar_subquery())
        rows = await self.db.rows(select(log_).where(log_.c.id.in_(latest)))
        changes = (_change(row) for row in rows)
        return {change.channel: change for change in changes if change.state is not ChannelState.HEALTHY}

    async def history(self, channel: ChannelName | None = None, limit: int = 50) -> list[HealthChange]:
        query = select(log_)
        if channel is not None:
            query = query.where(log_.c.channel == channel)
        rows = await self.db.rows(query.order_by(log_.c.id.desc()).limit(limit))
        return [_change(row) for row in rows]
