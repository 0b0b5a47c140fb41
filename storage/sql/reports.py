"""The dashboard's figures in SQL: grouped in the database over indexed time windows."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, and_, cast, distinct, func, literal, select

from core.delivery import MessageStatus
from core.ports.receipts import ReceiptStatus
from core.ports.reports import DeliveryFigure, Funnel
from storage.sql.db import Db
from storage.tables.messages import outbox
from storage.tables.people import channel_accounts, persons
from storage.tables.receipts import receipts

REFUSAL_PREFIX = "receipt.refused_"


class SqlReports:
    def __init__(self, db: Db) -> None:
        self.db = db

    def _local_day(self, column: object, zone: str, since: datetime) -> object:
        if self.db.dialect == "sqlite":  # no zones there: the zone's offset now (Moscow keeps one all year)
            offset = ZoneInfo(zone).utcoffset(since.replace(tzinfo=None))
            minutes = int(offset.total_seconds() // 60) if offset else 0
            return func.date(column, literal(f"{minutes:+d} minutes", String))
        return cast(func.timezone(zone, column), Date)

    async def receipts_per_day(self, since: datetime, zone: str) -> list[tuple[date, str, int]]:
        day = self._local_day(receipts.c.created_at, zone, since).label("day")  # type: ignore[attr-defined]
        rows = await self.db.rows(select(day, receipts.c.status, func.count())
                                  .where(receipts.c.created_at >= since).group_by(day, receipts.c.status)
                                  .order_by(day))
        return [(value if isinstance(value, date) else date.fromisoformat(value), status, int(count))
                for value, status, count in rows]

    async def refusals(self, since: datetime) -> dict[str, int]:
        rows = await self.db.rows(select(outbox.c.template, func.count())
                                  .where(outbox.c.created_at >= since, outbox.c.template.startswith(REFUSAL_PREFIX))
                                  .group_by(outbox.c.template))
        return {template.removeprefix(REFUSAL_PREFIX): int(count) for template, count in rows}

    async def channel_mix(self) -> dict[str, int]:
        rows = await self.db.rows(select(channel_accounts.c.channel, func.count()).group_by(channel_accounts.c.channel))
        return {channel: int(count) for channel, count in rows}

    async def funnel(self) -> Funnel:
        people = await self.db.first(select(func.count(), func.count(persons.c.registered_at))
                                     .where(persons.c.merged_into_id.is_(None)))
        sending = await self.db.first(select(
            func.count(distinct(receipts.c.person_id)),
            func.count(distinct(receipts.c.person_id)).filter(receipts.c.status == ReceiptStatus.ACCEPTED.value)))
        assert people is not None and sending is not None
        return Funnel(int(people[0]), int(people[1]), int(sending[0]), int(sending[1]))

    async def deliveries(self, since: datetime) -> list[DeliveryFigure]:
        fallback = and_(outbox.c.status == MessageStatus.SENT.value, outbox.c.last_error.is_not(None))
        rows = await self.db.rows(select(func.coalesce(outbox.c.channel, ""), outbox.c.status,
                                         func.count().filter(fallback), func.count())
                                  .where(outbox.c.created_at >= since)
                                  .group_by(outbox.c.channel, outbox.c.status))
        figures = []
        for channel, status, fallbacks, count in rows:
            if fallbacks:
                figures.append(DeliveryFigure(channel, status, True, int(fallbacks)))
            if count - fallbacks:
                figures.append(DeliveryFigure(channel, status, False, int(count - fallbacks)))
        return figures
