"""Receipts and their flags in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from core.ports.person_owned import Moved
from core.ports.personal_data import ErasureSubject
from core.ports.receipts import ReceiptCheck, ReceiptFlag, ReceiptStatus, StoredReceipt
from promo.campaigns import Award, Usage
from promo.products import ReceiptItem
from promo.receipts import FiscalReceipt
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.people import persons
from storage.tables.receipt_checks import receipt_checks
from storage.tables.receipts import receipt_flags, receipts

OWNED = (receipts, receipt_flags)
_COUNTED = (receipts.c.person_id == bindparam("person_"), receipts.c.campaign == bindparam("campaign_"),
            receipts.c.status != ReceiptStatus.REJECTED.value)
_find = select(receipts).where(receipts.c.fn == bindparam("fn_"), receipts.c.document_number == bindparam("i_"),
                               receipts.c.fiscal_sign == bindparam("fp_"))
_usage = select(
    func.count().filter(receipts.c.created_at >= bindparam("day_start"), receipts.c.created_at < bindparam("day_end")),
    func.count().filter(receipts.c.created_at >= bindparam("hour_since")),
    func.coalesce(func.sum(receipts.c.cashback_kopecks), 0),
    func.coalesce(func.sum(receipts.c.entries), 0),
).where(*_COUNTED)
_add = insert(receipts).returning(receipts.c.id)


def _receipt(row: object) -> StoredReceipt:
    return record(StoredReceipt, row, status=ReceiptStatus(row.status))  # type: ignore[attr-defined]


class SqlReceipts:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def find(self, key: tuple[int, int, int]) -> StoredReceipt | None:
        fn, document_number, fiscal_sign = key
        row = await self.db.first(_find, {"fn_": fn, "i_": document_number, "fp_": fiscal_sign})
        return None if row is None else _receipt(row)

    async def get(self, receipt_id: int) -> StoredReceipt:
        row = await self.db.first(select(receipts).where(receipts.c.id == receipt_id))
        if row is None:
            raise LookupError(f"no receipt {receipt_id}")
        return _receipt(row)

    async def of_person(self, person_id: int) -> list[StoredReceipt]:
        rows = await self.db.rows(select(receipts).where(receipts.c.person_id == person_id).order_by(receipts.c.id))
        return [_receipt(row) for row in rows]

    async def with_status(self, status: ReceiptStatus, limit: int = 1000) -> list[StoredReceipt]:
        rows = await self.db.rows(select(receipts).where(receipts.c.status == status.value)
                                  .order_by(receipts.c.created_at, receipts.c.id).limit(limit))
        return [_receipt(row) for row in rows]

    async def usage(self, person_id: int, campaign: str, day: tuple[datetime, datetime],
                    hour_since: datetime) -> Usage:
        row = await self.db.first(_usage, {"person_": person_id, "campaign_": campaign, "day_start": day[0],
                                           "day_end": day[1], "hour_since": hour_since})
        assert row is not None
        return Usage(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0))

    async def times_since(self, person_id: int, campaign: str, since: datetime) -> list[datetime]:
        rows = await self.db.rows(select(receipts.c.created_at).where(*_COUNTED, receipts.c.created_at >= since)
                                  .order_by(receipts.c.created_at),
                                  {"person_": person_id, "campaign_": campaign})
        return [row[0] for row in rows]

    async def add(self, person_id: int, campaign: str, receipt: FiscalReceipt, source: str, status: ReceiptStatus,
                  award: Award, now: datetime, next_check_at: datetime | None, *,
                  photo_sha256: str | None = None) -> StoredReceipt:
        values = {"person_id": person_id, "campaign": campaign, "fn": receipt.fn,
                  "document_number": receipt.document_number, "fiscal_sign": receipt.fiscal_sign,
                  "issued_at": receipt.issued_at, "sum_kopecks": receipt.sum_kopecks,
                  "operation": int(receipt.operation), "canonical": receipt.canonical(), "source": source,
                  "status": status.value, "cashback_kopecks": award.cashback_kopecks, "entries": award.entries,
                  "created_at": now, "next_check_at": next_check_at, "check_attempts": 0,
                  "photo_sha256": photo_sha256, "counted_at": now if status is ReceiptStatus.ACCEPTED else None}
        receipt_id = await self.db.scalar(_add, values)
        return StoredReceipt(receipt_id, person_id, campaign, values["canonical"], status, source,
                             receipt.sum_kopecks, award.cashback_kopecks, award.entries, 0, now, receipt.issued_at,
                             photo_sha256, receipt.fn)

    async def set_status(self, receipt_id: int, status: ReceiptStatus, next_check_at: datetime | None,
                         attempts: int, *, at: datetime | None = None) -> None:
        counted = {"counted_at": at} if status is ReceiptStatus.ACCEPTED and at is not None else {}
        await self.db.execute(update(receipts).where(receipts.c.id == receipt_id).values(
            status=status.value, next_check_at=next_check_at, check_attempts=attempts, **counted))

    async def due_for_check(self, now: datetime, lease_until: datetime, limit: int) -> list[StoredReceipt]:
        rows = await self.db.rows(select(receipts).where(
            receipts.c.status == ReceiptStatus.VERIFYING.value, receipts.c.next_check_at <= now)
            .order_by(receipts.c.next_check_at).limit(limit).with_for_update(skip_locked=True))
        if rows:
            await self.db.execute(update(receipts).where(receipts.c.id.in_([row.id for row in rows]))
                                  .values(next_check_at=lease_until))
        return [_receipt(row) for row in rows]

    async def flag(self, receipt_id: int, person_id: int, reason: str, now: datetime) -> None:
        await self.db.execute(insert(receipt_flags).values(receipt_id=receipt_id, person_id=person_id,
                                                           reason=reason[:32], created_at=now))

    async def flags(self, receipt_id: int | None = None) -> list[ReceiptFlag]:
        query = select(receipt_flags).order_by(receipt_flags.c.created_at, receipt_flags.c.id)
        if receipt_id is not None:
            query = query.where(receipt_flags.c.receipt_id == receipt_id)
        return [record(ReceiptFlag, row) for row in await self.db.rows(query)]

    async def flagged_people(self, reasons: frozenset[str], as_of: datetime | None = None) -> set[int]:
        flags = receipt_flags.c
        standing = [flags.resolved_at.is_(None)] if as_of is None else [
            flags.created_at < as_of, or_(flags.resolved_at.is_(None), flags.resolved_at >= as_of)]
        rows = await self.db.rows(select(flags.person_id).distinct().where(flags.reason.in_(sorted(reasons)),
                                                                           *standing))
        return {int(row[0]) for row in rows}

    async def set_award(self, receipt_id: int, cashback_kopecks: int, entries: int) -> None:
        await self.db.execute(update(receipts).where(receipts.c.id == receipt_id).values(
            cashback_kopecks=cashback_kopecks, entries=entries))

    async def record_check(self, receipt_id: int, shop_inn: str | None, items: list[ReceiptItem],
                           raw: dict[str, Any], now: datetime) -> None:
        values = {"shop_inn": shop_inn, "items": [_item(item) for item in items], "raw": raw, "checked_at": now}
        result = await self.db.execute(update(receipt_checks).where(receipt_checks.c.receipt_id == receipt_id)
                                       .values(**values))
        if result.rowcount == 0:
            await self.db.execute(insert(receipt_checks).values(receipt_id=receipt_id, **values))

    async def check_of(self, receipt_id: int) -> ReceiptCheck | None:
        row = await self.db.first(select(receipt_checks).where(receipt_checks.c.receipt_id == receipt_id))
        if row is None:
            return None
        items = [ReceiptItem(str(i["name"]), float(i["quantity"]), int(i["price"]), int(i["sum"])) for i in row.items]
        return ReceiptCheck(row.receipt_id, row.shop_inn, items, dict(row.raw), row.checked_at)

    async def from_shop(self, campaign: str, shop_inn: str, since: datetime, until: datetime,
                        excluding: int) -> int:
        count = await self.db.scalar(
            select(func.count()).select_from(receipts.join(receipt_checks,
                                                           receipt_checks.c.receipt_id == receipts.c.id))
            .where(receipt_checks.c.shop_inn == shop_inn, receipts.c.campaign == campaign,
                   receipts.c.issued_at >= since, receipts.c.issued_at <= until, receipts.c.id != excluding,
                   receipts.c.status != ReceiptStatus.REJECTED.value))
        return int(count or 0)

    async def people_on_drive(self, campaign: str, fn: int) -> int:
        count = await self.db.scalar(select(func.count(receipts.c.person_id.distinct())).where(
            receipts.c.campaign == campaign, receipts.c.fn == fn, receipts.c.status != ReceiptStatus.REJECTED.value))
        return int(count or 0)

    async def entries_by_person(self, campaign: str, issued_from: datetime, issued_before: datetime, *,
                                counted_before: datetime,
                                late: Sequence[tuple[datetime, datetime]] = ()) -> dict[int, int]:
        r = receipts.c
        counted = func.coalesce(r.counted_at, r.created_at)
        which = and_(r.issued_at >= issued_from, r.issued_at < issued_before)
        if late:
            which = or_(which, and_(counted >= issued_from,
                                    or_(*(and_(r.issued_at >= start, r.issued_at < end) for start, end in late))))
        rows = await self.db.rows(
            select(r.person_id, func.sum(r.entries)).where(
                r.campaign == campaign, r.status == ReceiptStatus.ACCEPTED.value, r.entries > 0,
                counted < counted_before, which,
                r.person_id.in_(select(persons.c.id).where(persons.c.withdrawn_at.is_(None))))
            .group_by(r.person_id))
        return {int(person): int(total) for person, total in rows}

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """The receipt check's answer as it came may name the buyer (a phone or e-mail for the e-receipt, a
        loyalty card): it goes; the shop's INN and the items stay (the campaign's rules were judged on them)."""
        mine = select(receipts.c.id).where(receipts.c.person_id == subject.person_id).scalar_subquery()
        result = await self.db.execute(update(receipt_checks).where(receipt_checks.c.receipt_id.in_(mine))
                                       .values(raw={}))
        return int(result.rowcount or 0)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)


def _item(item: ReceiptItem) -> dict[str, Any]:
    return {"name": item.name, "quantity": item.quantity, "price": item.price_kopecks, "sum": item.sum_kopecks}
