"""Payouts: the list of what is due (CSV), recording one as paid or taking one back, and what a person is owed.

A payout is settled once: paid (staff sent the money; the person is told) or cancelled (the money is
available again). Both move money only when the payout was still requested, so two settlements at
once — staff paying while the person cancels — move it once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from core.domain_events import Happened, event
from core.errors import CoreError
from core.events import OutgoingMessage
from core.identity import format_phone
from core.ports import Store, UnitOfWork
from core.ports.ledger import Payout, PayoutStatus
from core.ports.personal_data import ERASED
from core.queueing import enqueue
from core.spreadsheet import safe_cell
from promo import ledger
from promo.ledger import LedgerAccount

COLUMNS = ("payout_id", "person_id", "name", "phone", "amount_rub", "requested_at")


class PayoutRefused(CoreError):
    """A payout that cannot be settled as asked; ``reason`` is stable, the message says what to do instead."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Money:
    """A person's cashback as they are told it: each ledger account, paid out included, in kopecks."""

    available: int
    pending: int
    requested: int
    paid: int
    requested_payouts: tuple[Payout, ...]

    @property
    def owed(self) -> int:
        """Still theirs, not yet paid: what an erasure would leave nobody to pay."""
        return self.available + self.pending + self.requested


async def money_of(tx: UnitOfWork, person_id: int) -> Money:
    balances = await tx.ledger.balances(person_id)
    payouts = await tx.ledger.payouts(person_id=person_id)
    # paid money leaves the person's accounts for the campaign's ``paid_out``: their own payouts say how much
    return Money(balances.get(LedgerAccount.AVAILABLE, 0), balances.get(LedgerAccount.PENDING, 0),
                 balances.get(LedgerAccount.REQUESTED, 0),
                 sum(p.amount_kopecks for p in payouts if p.status is PayoutStatus.PAID),
                 tuple(p for p in payouts if p.status is PayoutStatus.REQUESTED))


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
    writer.writerows({column: safe_cell(value) for column, value in row.items()} for row in rows)
    return out.getvalue()


async def mark_paid(store: Store, payout_id: int, now: datetime) -> bool:
    """Record the money as sent and tell the person; False when there is no such requested payout.
    ``PayoutRefused`` when its phone was erased with its owner's data: nobody can be paid there."""
    async with store.transaction() as tx:
        payout = await tx.ledger.get_payout(payout_id)
        if payout is None or payout.status is not PayoutStatus.REQUESTED:
            return False
        if payout.phone == ERASED:
            raise PayoutRefused("erased", f"payout {payout_id}: its owner's data was erased, there is no phone to "
                                          f"pay to; take it back with: payout-cancel {payout_id}")
        if not await tx.ledger.settle_payout(payout_id, PayoutStatus.PAID, now):
            return False
        await tx.ledger.post(ledger.payout(payout.person_id, payout.amount_kopecks), now, payout_id=payout_id)
        tx.events.add(event(Happened.CASHBACK_PAID, payout.person_id, now, payout_id=payout_id,
                            amount_kopecks=payout.amount_kopecks))
        person = await tx.people.get(payout.person_id)
        money = await money_of(tx, person.id)
        enqueue(tx, OutgoingMessage(person.id, "payout.paid", {
            "amount": ledger.format_roubles(payout.amount_kopecks), "phone": format_phone(payout.phone),
            "paid": ledger.format_roubles(money.paid)}, person.locale), now)
        return True


async def take_back(tx: UnitOfWork, payout: Payout, now: datetime, by: str) -> bool:
    """Cancel a requested payout in the caller's unit of work: its money is available again. False when it was
    settled meanwhile (paid, say): then nothing moves."""
    if payout.status is not PayoutStatus.REQUESTED:
        return False
    if not await tx.ledger.settle_payout(payout.id, PayoutStatus.CANCELLED, now):
        return False
    await tx.ledger.post(ledger.payout_cancel(payout.person_id, payout.amount_kopecks), now, payout_id=payout.id)
    tx.events.add(event(Happened.PAYOUT_CANCELLED, payout.person_id, now, payout_id=payout.id,
                        amount_kopecks=payout.amount_kopecks, by=by))
    return True


async def cancel(store: Store, payout_id: int, now: datetime) -> bool:
    """Staff take back a requested payout (``payout-cancel``); False when there is no such requested payout."""
    async with store.transaction() as tx:
        payout = await tx.ledger.get_payout(payout_id)
        return payout is not None and await take_back(tx, payout, now, "staff")
