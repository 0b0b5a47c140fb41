"""Receipts people sent, and the flags that send them to staff."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.ports.person_owned import Moved
from promo.campaigns import Award, Usage
from promo.products import ReceiptItem
from promo.receipts import FiscalReceipt


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"  # rewarded: its cashback is available
    VERIFYING = "verifying"  # waiting for the tax service's answer
    MODERATION = "moderation"  # waiting for staff: no automatic check, or flagged
    REJECTED = "rejected"  # not rewarded (the tax service or staff said no)


@dataclass(frozen=True)
class StoredReceipt:
    id: int
    person_id: int
    campaign: str
    canonical: str
    status: ReceiptStatus
    source: str  # photo | typed | manual
    sum_kopecks: int
    cashback_kopecks: int
    entries: int
    check_attempts: int
    created_at: datetime
    issued_at: datetime
    photo_sha256: str | None = None  # the photo it was read from (``tx.photos``)
    fn: int = 0  # the till's fiscal drive


@dataclass(frozen=True)
class ReceiptCheck:
    """What the receipt check returned: the shop, the items, and its answer as it came."""

    receipt_id: int
    shop_inn: str | None
    items: list[ReceiptItem]
    raw: dict[str, Any]
    checked_at: datetime


@dataclass(frozen=True)
class ReceiptFlag:
    id: int
    receipt_id: int
    person_id: int
    reason: str
    created_at: datetime
    resolved_at: datetime | None = None


class ReceiptRepository(Protocol):
    async def find(self, key: tuple[int, int, int]) -> StoredReceipt | None:
        """By (fn, i, fp): the same receipt whoever sent it."""
        ...
    async def get(self, receipt_id: int) -> StoredReceipt: ...
    async def of_person(self, person_id: int) -> list[StoredReceipt]: ...
    async def with_status(self, status: ReceiptStatus, limit: int = 1000) -> list[StoredReceipt]:
        """Oldest first: the moderation queue."""
        ...
    async def usage(self, person_id: int, campaign: str, day: tuple[datetime, datetime],
                    hour_since: datetime) -> Usage:
        """What the person has used of the campaign's limits (rejected receipts do not count)."""
        ...
    async def times_since(self, person_id: int, campaign: str, since: datetime) -> list[datetime]:
        """When the person's counted receipts came in since ``since``, oldest first (to say when a limit frees)."""
        ...
    async def add(self, person_id: int, campaign: str, receipt: FiscalReceipt, source: str, status: ReceiptStatus,
                  award: Award, now: datetime, next_check_at: datetime | None, *,
                  photo_sha256: str | None = None) -> StoredReceipt:
        """``ConflictError`` when someone stored the same receipt meanwhile."""
        ...
    async def set_status(self, receipt_id: int, status: ReceiptStatus, next_check_at: datetime | None,
                         attempts: int, *, at: datetime | None = None) -> None:
        """Becoming ACCEPTED ``at`` a moment: its draw entries count from then (a draw's list takes only what was
        counted before its entries closed)."""
        ...
    async def due_for_check(self, now: datetime, lease_until: datetime, limit: int) -> list[StoredReceipt]:
        """Receipts whose tax-service check is due, leased to the caller until ``lease_until``."""
        ...

    async def flag(self, receipt_id: int, person_id: int, reason: str, now: datetime) -> None: ...
    async def flags(self, receipt_id: int | None = None) -> list[ReceiptFlag]: ...
    async def flagged_people(self, reasons: frozenset[str], as_of: datetime | None = None) -> set[int]:
        """People with an unresolved flag for one of these reasons (``as_of``: as the flags stood then)."""
        ...

    async def set_award(self, receipt_id: int, cashback_kopecks: int, entries: int) -> None:
        """The award decided once the receipt's items are known (product rules)."""
        ...
    async def record_check(self, receipt_id: int, shop_inn: str | None, items: list[ReceiptItem],
                           raw: dict[str, Any], now: datetime) -> None: ...
    async def check_of(self, receipt_id: int) -> ReceiptCheck | None: ...
    async def from_shop(self, campaign: str, shop_inn: str, since: datetime, until: datetime,
                        excluding: int) -> int:
        """Counted receipts of the campaign from this shop issued in [since, until], besides ``excluding``."""
        ...
    async def people_on_drive(self, campaign: str, fn: int) -> int:
        """How many people sent counted receipts of this fiscal drive in the campaign."""
        ...
    async def entries_by_person(self, campaign: str, issued_from: datetime, issued_before: datetime, *,
                                counted_before: datetime,
                                late: Sequence[tuple[datetime, datetime]] = ()) -> dict[int, int]:
        """Draw entries per person of accepted receipts counted before ``counted_before``: issued in
        [issued_from, issued_before), or issued in one of the ``late`` spans and counted from ``issued_from`` on
        (receipts that missed the list of their purchase's draw). Receipts accepted before counting was recorded
        count from when they were stored. Not of people who erased their data: they withdrew consent and enter no
        draw whose list is frozen after."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
