"""The ledger and payouts in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update

from core.ports.ledger import Payout, PayoutStatus
from core.ports.person_owned import Moved
from promo.ledger import LedgerAccount, Movement
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.ledger import ledger_entries, ledger_transactions, payouts

OWNED = (ledger_entries, payouts)
_begin = insert(ledger_transactions).returning(ledger_transactions.c.id)
_post = insert(ledger_entries)
_balances = (select(ledger_entries.c.account, func.sum(ledger_entries.c.amount_kopecks))
             .where(ledger_entries.c.person_id == bindparam("person_")).group_by(ledger_entries.c.account))


def _payout(row: object) -> Payout:
    return record(Payout, row, status=PayoutStatus(row.status))  # type: ignore[attr-defined]


class SqlLedger:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def post(self, movement: Movement, now: datetime, *, receipt_id: int | None = None,
                   payout_id: int | None = None) -> None:
        transaction_id = await self.db.scalar(_begin, {"kind": movement.kind, "receipt_id": receipt_id,
                                                       "payout_id": payout_id, "created_at": now})
        await self.db.execute(_post, [
            {"transaction_id": transaction_id, "account": p.account.value, "person_id": p.person_id,
             "amount_kopecks": p.amount_kopecks} for p in movement.postings])

    async def balances(self, person_id: int) -> dict[LedgerAccount, int]:
        rows = await self.db.rows(_balances, {"person_": person_id})
        return {LedgerAccount(account): int(total) for account, total in rows}

    async def total(self) -> int:
        return int(await self.db.scalar(select(func.coalesce(func.sum(ledger_entries.c.amount_kopecks), 0))) or 0)

    async def add_payout(self, person_id: int, amount_kopecks: int, phone: str, now: datetime) -> Payout:
        payout_id = await self.db.scalar(insert(payouts).values(
            person_id=person_id, amount_kopecks=amount_kopecks, phone=phone, status=PayoutStatus.REQUESTED.value,
            requested_at=now).returning(payouts.c.id))
        return Payout(payout_id, person_id, amount_kopecks, phone, PayoutStatus.REQUESTED, now)

    async def get_payout(self, payout_id: int) -> Payout | None:
        row = await self.db.first(select(payouts).where(payouts.c.id == payout_id))
        return None if row is None else _payout(row)

    async def payouts(self, status: PayoutStatus | None = None, *, person_id: int | None = None) -> list[Payout]:
        query = select(payouts).order_by(payouts.c.requested_at, payouts.c.id)
        if status is not None:
            query = query.where(payouts.c.status == status.value)
        if person_id is not None:
            query = query.where(payouts.c.person_id == person_id)
        return [_payout(row) for row in await self.db.rows(query)]

    async def settle_payout(self, payout_id: int, status: PayoutStatus, now: datetime) -> bool:
        # conditional on still being requested: a payout paid and cancelled at once by two writers moves money once
        result = await self.db.execute(update(payouts).where(
            payouts.c.id == payout_id, payouts.c.status == PayoutStatus.REQUESTED.value).values(
            status=status.value, paid_at=now if status is PayoutStatus.PAID else None))
        return bool(result.rowcount)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)
