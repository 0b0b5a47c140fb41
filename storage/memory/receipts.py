"""Receipts and their flags, in memory; (fn, i, fp) is unique for everyone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.ports.person_owned import Moved
from core.ports.personal_data import ErasureSubject
from core.ports.receipts import ReceiptCheck, ReceiptFlag, ReceiptStatus, StoredReceipt
from promo.campaigns import Award, Usage
from promo.products import ReceiptItem
from promo.receipts import FiscalReceipt
from storage.memory.table import Table, json_copy, reassign_rows, restore_rows, utc

RECEIPTS, FLAGS, CHECKS = "receipts", "receipt_flags", "receipt_checks"


@dataclass(frozen=True)
class ReceiptRow:
    id: int
    person_id: int
    campaign: str
    fn: int
    document_number: int
    fiscal_sign: int
    issued_at: datetime
    sum_kopecks: int
    operation: int
    canonical: str
    source: str
    status: ReceiptStatus
    cashback_kopecks: int
    entries: int
    created_at: datetime
    next_check_at: datetime | None
    check_attempts: int
    photo_sha256: str | None = None
    counted_at: datetime | None = None  # when it became accepted (its draw entries count from then)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.fn, self.document_number, self.fiscal_sign)

    def record(self) -> StoredReceipt:
        return StoredReceipt(self.id, self.person_id, self.campaign, self.canonical, self.status, self.source,
                             self.sum_kopecks, self.cashback_kopecks, self.entries, self.check_attempts,
                             self.created_at, self.issued_at, self.photo_sha256, self.fn)


class ReceiptTables:
    def __init__(self) -> None:
        self.receipts: Table[int, ReceiptRow] = Table(RECEIPTS, unique={"key": lambda r: r.key})
        self.flags: Table[int, ReceiptFlag] = Table(FLAGS)
        self.checks: Table[int, ReceiptCheck] = Table(CHECKS)

    def all(self) -> list[Table]:
        return [self.receipts, self.flags, self.checks]

    def owned(self) -> list[Table]:
        return [self.receipts, self.flags]


class MemoryReceipts:
    def __init__(self, tables: ReceiptTables, person_exists: Table) -> None:
        self._t = tables
        self._persons = person_exists

    async def find(self, key: tuple[int, int, int]) -> StoredReceipt | None:
        row = self._t.receipts.find("key", tuple(key))
        return None if row is None else row.record()

    async def get(self, receipt_id: int) -> StoredReceipt:
        return self._t.receipts.one(receipt_id).record()

    async def of_person(self, person_id: int) -> list[StoredReceipt]:
        return [row.record() for row in sorted(self._t.receipts.where(lambda r: r.person_id == person_id),
                                               key=lambda r: r.id)]

    async def with_status(self, status: ReceiptStatus, limit: int = 1000) -> list[StoredReceipt]:
        rows = sorted(self._t.receipts.where(lambda r: r.status == status), key=lambda r: (r.created_at, r.id))
        return [row.record() for row in rows[:limit]]

    def _counted(self, person_id: int, campaign: str) -> list[ReceiptRow]:
        """The person's receipts that count against the campaign's limits: every one not rejected."""
        return self._t.receipts.where(lambda r: r.person_id == person_id and r.campaign == campaign
                                      and r.status != ReceiptStatus.REJECTED)

    async def usage(self, person_id: int, campaign: str, day: tuple[datetime, datetime],
                    hour_since: datetime) -> Usage:
        counted = self._counted(person_id, campaign)
        return Usage(receipts_today=sum(1 for r in counted if day[0] <= r.created_at < day[1]),
                     receipts_last_hour=sum(1 for r in counted if r.created_at >= hour_since),
                     cashback_kopecks=sum(r.cashback_kopecks for r in counted),
                     entries=sum(r.entries for r in counted))

    async def times_since(self, person_id: int, campaign: str, since: datetime) -> list[datetime]:
        return sorted(r.created_at for r in self._counted(person_id, campaign) if r.created_at >= since)

    async def add(self, person_id: int, campaign: str, receipt: FiscalReceipt, source: str, status: ReceiptStatus,
                  award: Award, now: datetime, next_check_at: datetime | None, *,
                  photo_sha256: str | None = None) -> StoredReceipt:
        self._persons.one(person_id)
        row = ReceiptRow(
            id=self._t.receipts.next_id(), person_id=person_id, campaign=campaign, fn=receipt.fn,
            document_number=receipt.document_number, fiscal_sign=receipt.fiscal_sign,
            issued_at=utc(receipt.issued_at), sum_kopecks=receipt.sum_kopecks, operation=int(receipt.operation),
            canonical=receipt.canonical(), source=source, status=ReceiptStatus(status),
            cashback_kopecks=award.cashback_kopecks, entries=award.entries, created_at=utc(now),
            next_check_at=utc(next_check_at), check_attempts=0, photo_sha256=photo_sha256,
            counted_at=utc(now) if status is ReceiptStatus.ACCEPTED else None)
        return self._t.receipts.put(row.id, row).record()

    async def set_status(self, receipt_id: int, status: ReceiptStatus, next_check_at: datetime | None,
                         attempts: int, *, at: datetime | None = None) -> None:
        row = self._t.receipts.one(receipt_id)
        counted = utc(at) if status is ReceiptStatus.ACCEPTED and at is not None else row.counted_at
        self._t.receipts.put(row.id, replace(row, status=ReceiptStatus(status), next_check_at=utc(next_check_at),
                                             check_attempts=attempts, counted_at=counted))

    async def due_for_check(self, now: datetime, lease_until: datetime, limit: int) -> list[StoredReceipt]:
        due = sorted(self._t.receipts.where(lambda r: r.status == ReceiptStatus.VERIFYING
                                            and r.next_check_at is not None and r.next_check_at <= now),
                     key=lambda r: (r.next_check_at, r.id))[:limit]
        return [self._t.receipts.put(r.id, replace(r, next_check_at=utc(lease_until))).record() for r in due]

    async def flag(self, receipt_id: int, person_id: int, reason: str, now: datetime) -> None:
        self._t.receipts.one(receipt_id)
        self._persons.one(person_id)
        flag = ReceiptFlag(self._t.flags.next_id(), receipt_id, person_id, reason, utc(now))
        self._t.flags.put(flag.id, flag)

    async def flags(self, receipt_id: int | None = None) -> list[ReceiptFlag]:
        rows = self._t.flags.where(lambda f: receipt_id is None or f.receipt_id == receipt_id)
        return sorted(rows, key=lambda f: (f.created_at, f.id))

    async def flagged_people(self, reasons: frozenset[str], as_of: datetime | None = None) -> set[int]:
        def standing(f: ReceiptFlag) -> bool:
            if as_of is None:
                return f.resolved_at is None
            return f.created_at < as_of and (f.resolved_at is None or f.resolved_at >= as_of)
        return {f.person_id for f in self._t.flags.rows() if f.reason in reasons and standing(f)}

    async def set_award(self, receipt_id: int, cashback_kopecks: int, entries: int) -> None:
        row = self._t.receipts.one(receipt_id)
        self._t.receipts.put(row.id, replace(row, cashback_kopecks=cashback_kopecks, entries=entries))

    async def record_check(self, receipt_id: int, shop_inn: str | None, items: list[ReceiptItem],
                           raw: dict[str, Any], now: datetime) -> None:
        self._t.receipts.one(receipt_id)
        self._t.checks.put(receipt_id, ReceiptCheck(receipt_id, shop_inn, list(items), json_copy(raw), utc(now)))

    async def check_of(self, receipt_id: int) -> ReceiptCheck | None:
        return self._t.checks.get(receipt_id)

    async def from_shop(self, campaign: str, shop_inn: str, since: datetime, until: datetime,
                        excluding: int) -> int:
        def counted(row: ReceiptRow) -> bool:
            check = self._t.checks.get(row.id)
            return (check is not None and check.shop_inn == shop_inn and row.campaign == campaign
                    and since <= row.issued_at <= until and row.id != excluding
                    and row.status != ReceiptStatus.REJECTED)
        return len(self._t.receipts.where(counted))

    async def people_on_drive(self, campaign: str, fn: int) -> int:
        return len({r.person_id for r in self._t.receipts.rows()
                    if r.campaign == campaign and r.fn == fn and r.status != ReceiptStatus.REJECTED})

    async def entries_by_person(self, campaign: str, issued_from: datetime, issued_before: datetime, *,
                                counted_before: datetime,
                                late: Sequence[tuple[datetime, datetime]] = ()) -> dict[int, int]:
        totals: dict[int, int] = {}
        for r in self._t.receipts.rows():
            counted = r.counted_at or r.created_at
            if r.campaign != campaign or r.status != ReceiptStatus.ACCEPTED or r.entries <= 0 \
                    or counted >= counted_before or self._persons.one(r.person_id).withdrawn_at is not None:
                continue
            if issued_from <= r.issued_at < issued_before or (
                    counted >= issued_from and any(start <= r.issued_at < end for start, end in late)):
                totals[r.person_id] = totals.get(r.person_id, 0) + r.entries
        return totals

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """See ``storage.sql.receipts``: the check's raw answer goes, the shop and the items stay."""
        mine = {r.id for r in self._t.receipts.where(lambda r: r.person_id == subject.person_id)}
        checks = self._t.checks.where(lambda c: c.receipt_id in mine)
        for check in checks:
            self._t.checks.put(check.receipt_id, replace(check, raw={}))
        return len(checks)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows(self._t.owned(), absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows(self._t.owned(), moved, person_id)
