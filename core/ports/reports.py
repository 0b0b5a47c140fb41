"""Figures for the managers' dashboard: receipts per day, outcomes, channels, the funnel, deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class Funnel:
    scanned: int  # people who reached a bot (from a pack's QR code or otherwise)
    registered: int
    first_receipt: int  # people with at least one stored receipt
    rewarded: int  # people with an accepted receipt


@dataclass(frozen=True)
class DeliveryFigure:
    channel: str  # "" when nothing was reachable
    status: str
    fallback: bool  # sent, but only after another channel failed
    count: int


class ReportRepository(Protocol):
    async def receipts_per_day(self, since: datetime, zone: str) -> list[tuple[date, str, int]]:
        """(day in ``zone``, status, receipts) since ``since``."""
        ...
    async def refusals(self, since: datetime, *, zone: str | None = None,
                       now: datetime | None = None) -> dict[str, int]:
        """Receipts refused before they were stored, by reason (the refusal the person was sent).

        With ``zone`` and ``now``, and ``since`` a midnight in that zone, a store may read closed days from
        daily roll-ups: the figures are the same as a direct count."""
        ...
    async def channel_mix(self) -> dict[str, int]:
        """Accounts per channel."""
        ...
    async def funnel(self) -> Funnel: ...
    async def deliveries(self, since: datetime, *, zone: str | None = None,
                         now: datetime | None = None) -> list[DeliveryFigure]:
        """Messages since then per channel and status, fallbacks apart (``zone`` and ``now``: see refusals)."""
        ...
