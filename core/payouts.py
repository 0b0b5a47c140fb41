"""Payouts for managers: the list of what is due (CSV) and recording one as paid."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from core.domain_events import Happened, event
from core.ports import Store
from core.ports.ledger import PayoutStatus
from promo import ledger

COLUMNS = ("payout_id", "person_id", "name", "phone", "amount_rub", "requested_at")


async def payouts_due(store: Store) -> list[dict[str, str]]:
    async with store.transaction() as tx:
        due = await tx.ledger.payouts(PayoutStatus.REQUESTED)
        names = {p.person_id: (await tx.people.get(p.person_id)).name or "" for p in due}
    return [{"payout_id": str(p.id), "person_id": str(p.person_id), "name": names[p.person_id], "phone": p.phone,
             "amount_rub": f"{p.amount_kopecks // 100}.{p.amount_kopecks % 100:02d}",
             "requested_at": p.requested_at.isoformat()} for p in due]


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def mark_paid(store: Store, payout_id: int, now: datetime) -> bool:
    """Record the money as sent; False when there is no such requested payout."""
    async with store.transaction() as tx:
        payout = await tx.ledger.get_payout(payout_id)
        if payout is None or payout.status is not PayoutStatus.REQUESTED:
            return False
        await tx.ledger.set_payout_paid(payout_id, now)
        await tx.ledger.post(ledger.payout(payout.person_id, payout.amount_kopecks), now, payout_id=payout_id)
        tx.events.add(event(Happened.CASHBACK_PAID, payout.person_id, now, payout_id=payout_id,
                            amount_kopecks=payout.amount_kopecks))
        return True
