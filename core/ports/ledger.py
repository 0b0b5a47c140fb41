"""The cashback ledger (double entry, integer kopecks) and payout requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.ports.person_owned import Moved
from promo.ledger import LedgerAccount, Movement


class PayoutStatus(StrEnum):
    REQUESTED = "requested"
    PAID = "paid"
    CANCELLED = "cancelled"  # taken back by the person before it was paid (the money is available again)


@dataclass(frozen=True)
class Payout:
    id: int
    person_id: int
    amount_kopecks: int
    phone: str
    status: PayoutStatus
    requested_at: datetime
    paid_at: datetime | None = None


class LedgerRepository(Protocol):
    async def post(self, movement: Movement, now: datetime, *, receipt_id: int | None = None,
                   payout_id: int | None = None) -> None: ...
    async def balances(self, person_id: int) -> dict[LedgerAccount, int]:
        """Every account the person has money in (zero-sum accounts included once touched)."""
        ...
    async def total(self) -> int:
        """The sum of every posting ever made: zero while the ledger balances."""
        ...

    async def add_payout(self, person_id: int, amount_kopecks: int, phone: str, now: datetime) -> Payout: ...
    async def get_payout(self, payout_id: int) -> Payout | None: ...
    async def payouts(self, status: PayoutStatus | None = None, *, person_id: int | None = None) -> list[Payout]:
        """Oldest first; of one status, of one person, or all."""
        ...
    async def settle_payout(self, payout_id: int, status: PayoutStatus, now: datetime) -> bool:
        """A requested payout becomes paid (``paid_at``: now) or cancelled; False when it was no longer requested
        (settled meanwhile by someone else): the caller then moves no money."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
