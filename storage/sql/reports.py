"""The dashboard's figures in SQL: grouped in the database over indexed time windows.

Refusals and deliveries are read from the outbox, the biggest table. Their closed days come from
daily roll-ups (``report_days``), written the first time a dashboard asks for a day that has
ended (an hour ago: ``SETTLE``) and whose every message has reached a final status: a final
status never changes again (``MessageStatus.is_final``), nor does a message's template or time,
so such a day's counts are fixed for good. Days still unsettled (a message pending or awaiting
an answer) and the open day are counted from the outbox each time. The sum is therefore always
what a direct count over the window gives.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, and_, cast, distinct, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.delivery import MessageStatus
from core.ports.receipts import ReceiptStatus
from core.ports.reports import DeliveryFigure, Funnel
from storage.sql.db import Db
from storage.tables.messages import outbox
from storage.tables.people import channel_accounts, persons
from storage.tables.receipts import receipts
from storage.tables.reports import report_days

REFUSAL_PREFIX = "receipt.refused_"
SETTLE = timedelta(hours=1)  # a day is closed this long after it ended: every message of it is committed
UNSETTLED = [s.value for s in MessageStatus if not s.is_final]
_insert = {dialect: insert(report_days).on_conflict_do_nothing()
           for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}
Key = tuple[str, str, bool]  # (channel, key, fallback)
FIGURES = ("refusal", "delivery")


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime.combine(day, time.min, zone), datetime.combine(day + timedelta(days=1), time.min, zone)


class SqlReports:
    def __init__(self, db: Db) -> None:
        self.db = db
        self._rolled: dict[tuple[str, date, date], tuple[dict[str, Counter[Key]], list[tuple[datetime, datetime]]]]
        self._rolled = {}

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

    # the outbox's figures, counted --------------------------------------------------------------

    async def _count_refusals(self, where: Any) -> Counter[Key]:
        rows = await self.db.rows(select(outbox.c.template, func.count())
                                  .where(where, outbox.c.template.startswith(REFUSAL_PREFIX))
                                  .group_by(outbox.c.template))
        return Counter({("", template.removeprefix(REFUSAL_PREFIX), False): int(count) for template, count in rows})

    async def _count_deliveries(self, where: Any) -> Counter[Key]:
        fallback = and_(outbox.c.status == MessageStatus.SENT.value, outbox.c.last_error.is_not(None))
        rows = await self.db.rows(select(func.coalesce(outbox.c.channel, ""), outbox.c.status,
                                         func.count().filter(fallback), func.count())
                                  .where(where).group_by(outbox.c.channel, outbox.c.status))
        counts: Counter[Key] = Counter()
        for channel, status, fallbacks, count in rows:
            if fallbacks:
                counts[(channel, status, True)] += int(fallbacks)
            if count - fallbacks:
                counts[(channel, status, False)] += int(count - fallbacks)
        return counts

    async def _count(self, figure: str, where: Any) -> Counter[Key]:
        return await (self._count_refusals(where) if figure == "refusal" else self._count_deliveries(where))

    # the outbox's figures, rolled up per closed day ---------------------------------------------

    async def _roll_up(self, zone: ZoneInfo, first: date, last: date,
                       now: datetime) -> tuple[dict[str, Counter[Key]], list[tuple[datetime, datetime]]]:
        """The rolled-up figures of the closed days ``first``..``last`` (rolling up the settled ones not yet
        rolled up), and the UTC ranges of the days still unsettled, to be counted directly."""
        cache_key = (zone.key, first, last)
        if cache_key in self._rolled:
            return self._rolled[cache_key]
        in_days = and_(report_days.c.zone == zone.key, report_days.c.day >= first, report_days.c.day <= last)
        rolled = {row[0] for row in await self.db.rows(select(report_days.c.day)
                                                       .where(in_days, report_days.c.figure == "closed"))}
        unsettled, new_rows = [], []
        day = first
        while day <= last:
            if day not in rolled:
                start, end = _day_bounds(day, zone)
                in_day = and_(outbox.c.created_at >= start, outbox.c.created_at < end)
                pending = await self.db.first(select(outbox.c.id).where(in_day, outbox.c.status.in_(UNSETTLED))
                                              .limit(1))
                if pending is not None:
                    unsettled.append((start, end))
                else:
                    for figure in FIGURES:
                        new_rows += [{"zone": zone.key, "day": day, "figure": figure, "channel": channel, "key": key,
                                      "fallback": fallback, "count": n, "rolled_at": now}
                                     for (channel, key, fallback), n in (await self._count(figure, in_day)).items()]
                    new_rows.append({"zone": zone.key, "day": day, "figure": "closed", "channel": "", "key": "",
                                     "fallback": False, "count": 0, "rolled_at": now})
            day += timedelta(days=1)
        if new_rows:  # a concurrent dashboard may have rolled up the same day: the same rows, kept once
            await self.db.execute(_insert[self.db.dialect], new_rows)
        figures: dict[str, Counter[Key]] = {figure: Counter() for figure in FIGURES}
        for figure, channel, key, fallback, count in await self.db.rows(
                select(report_days.c.figure, report_days.c.channel, report_days.c.key, report_days.c.fallback,
                       func.sum(report_days.c.count))
                .where(in_days, report_days.c.figure.in_(FIGURES))
                .group_by(report_days.c.figure, report_days.c.channel, report_days.c.key, report_days.c.fallback)):
            figures[figure][(channel, key, bool(fallback))] += int(count)
        self._rolled[cache_key] = (figures, unsettled)
        return figures, unsettled

    async def _figure(self, figure: str, since: datetime, zone: str | None, now: datetime | None) -> Counter[Key]:
        local = ZoneInfo(zone) if zone else None
        aligned = local is not None and since.astimezone(local).timetz().replace(tzinfo=None) == time.min
        if local is None or now is None or not aligned:
            return await self._count(figure, outbox.c.created_at >= since)
        first = since.astimezone(local).date()
        open_from = datetime.combine((now - SETTLE).astimezone(local).date(), time.min, local)
        last = open_from.date() - timedelta(days=1)
        if last < first:
            return await self._count(figure, outbox.c.created_at >= since)
        figures, unsettled = await self._roll_up(local, first, last, now)
        live = [outbox.c.created_at >= open_from] + [and_(outbox.c.created_at >= start, outbox.c.created_at < end)
                                                      for start, end in unsettled]
        return figures[figure] + await self._count(figure, or_(*live))

    async def refusals(self, since: datetime, *, zone: str | None = None,
                       now: datetime | None = None) -> dict[str, int]:
        return {key: n for (_, key, _), n in (await self._figure("refusal", since, zone, now)).items() if n}

    async def deliveries(self, since: datetime, *, zone: str | None = None,
                         now: datetime | None = None) -> list[DeliveryFigure]:
        counts = await self._figure("delivery", since, zone, now)
        return [DeliveryFigure(channel, status, fallback, n)
                for (channel, status, fallback), n in sorted(counts.items()) if n]

    # whole-platform figures -------------------------------------------------------------------------

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
