"""Payouts for managers: the list of what is due (CSV) and marking one as paid."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import select

from promo import ledger
from storage.models import PayoutRow, PersonRow
from storage.store import SqlStore

COLUMNS = ("payout_id", "person_id", "name", "phone", "amount_rub", "requested_at")


async def payouts_due(store: SqlStore) -> list[dict[str, str]]:
    async with store.transaction() as tx:
        rows = await tx.session.execute(select(PayoutRow, PersonRow.name).join(
            PersonRow, PersonRow.id == PayoutRow.person_id).where(PayoutRow.status == "requested")
            .order_by(PayoutRow.requested_at, PayoutRow.id))
        return [{"payout_id": str(p.id), "person_id": str(p.person_id), "name": name or "", "phone": p.phone,
                 "amount_rub": f"{p.amount_kopecks // 100}.{p.amount_kopecks % 100:02d}",
                 "requested_at": p.requested_at.isoformat()} for p, name in rows]


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def mark_paid(store: SqlStore, payout_id: int, now: datetime) -> bool:
    """Record the money as sent; False when there is no such requested payout."""
    async with store.transaction() as tx:
        row = await tx.session.get(PayoutRow, payout_id)
        if row is None or row.status != "requested":
            return False
        row.status, row.paid_at = "paid", now
        await tx.post(ledger.payout(row.person_id, row.amount_kopecks), now, payout_id=row.id)
        return True
