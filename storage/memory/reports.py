"""The dashboard's figures, in memory."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.delivery import MessageStatus
from core.ports.receipts import ReceiptStatus
from core.ports.reports import DeliveryFigure, Funnel

if TYPE_CHECKING:
    from storage.memory import MemoryTables

REFUSAL_PREFIX = "receipt.refused_"


class MemoryReports:
    def __init__(self, tables: MemoryTables) -> None:
        self._t = tables

    async def receipts_per_day(self, since: datetime, zone: str) -> list[tuple[date, str, int]]:
        local = ZoneInfo(zone)
        counts = Counter((r.created_at.astimezone(local).date(), r.status.value)
                         for r in self._t.receipts.receipts.where(lambda r: r.created_at >= since))
        return sorted((day, status, count) for (day, status), count in counts.items())

    async def refusals(self, since: datetime, *, zone: str | None = None,
                       now: datetime | None = None) -> dict[str, int]:
        counts = Counter(r.template.removeprefix(REFUSAL_PREFIX) for r in self._t.messages.outbox.where(
            lambda r: r.created_at >= since and r.template.startswith(REFUSAL_PREFIX)))
        return dict(counts)

    async def channel_mix(self) -> dict[str, int]:
        return dict(Counter(str(a.channel) for a in self._t.people.accounts.rows()))

    async def funnel(self) -> Funnel:
        people = self._t.people.persons.where(lambda p: p.merged_into_id is None)
        receipts = list(self._t.receipts.receipts.rows())
        return Funnel(len(people), sum(1 for p in people if p.registered_at is not None),
                      len({r.person_id for r in receipts}),
                      len({r.person_id for r in receipts if r.status is ReceiptStatus.ACCEPTED}))

    async def deliveries(self, since: datetime, *, zone: str | None = None,
                         now: datetime | None = None) -> list[DeliveryFigure]:
        counts = Counter((r.channel or "", r.status.value, r.status is MessageStatus.SENT and r.last_error is not None)
                         for r in self._t.messages.outbox.where(lambda r: r.created_at >= since))
        return [DeliveryFigure(channel, status, fallback, count)
                for (channel, status, fallback), count in sorted(counts.items())]
