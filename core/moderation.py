"""Staff decide on receipts no automatic check could settle: approve (cashback becomes available) or reject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain_events import Happened, event, without_contacts
from core.events import OutgoingMessage
from core.ports import ReceiptStatus, UnitOfWork
from core.queueing import enqueue
from promo import ledger

UNDECIDED = (ReceiptStatus.MODERATION, ReceiptStatus.VERIFYING)


@dataclass(frozen=True)
class Decision:
    receipt_id: int
    status: ReceiptStatus
    changed: bool  # False when the receipt was already decided (nothing done again)


def approved(tx: UnitOfWork, person_id: int, receipt_id: int, cashback_kopecks: int, by: str, now: datetime) -> None:
    """A receipt counts: said as ``receipt.approved``, and its cashback (if any) as ``cashback.accrued``."""
    tx.events.add(event(Happened.RECEIPT_APPROVED, person_id, now, receipt_id=receipt_id,
                        cashback_kopecks=cashback_kopecks, by=by))
    if cashback_kopecks:
        tx.events.add(event(Happened.CASHBACK_ACCRUED, person_id, now, receipt_id=receipt_id,
                            amount_kopecks=cashback_kopecks))


async def approve(tx: UnitOfWork, receipt_id: int, now: datetime) -> Decision:
    receipt = await tx.receipts.get(receipt_id)
    if receipt.status not in UNDECIDED:
        return Decision(receipt_id, receipt.status, False)
    # counted now: a list frozen before this (its entries closed) never takes it
    await tx.receipts.set_status(receipt_id, ReceiptStatus.ACCEPTED, None, receipt.check_attempts, at=now)
    approved(tx, receipt.person_id, receipt_id, receipt.cashback_kopecks, "staff", now)
    if receipt.cashback_kopecks:
        await tx.ledger.post(ledger.approval(receipt.person_id, receipt.cashback_kopecks), now, receipt_id=receipt_id)
    person = await tx.people.get(receipt.person_id)
    enqueue(tx, OutgoingMessage(person.id, "receipt.approved", {
        "sum": ledger.format_roubles(receipt.sum_kopecks), "cashback": ledger.format_roubles(receipt.cashback_kopecks)},
        person.locale), now)
    return Decision(receipt_id, ReceiptStatus.ACCEPTED, True)


async def reject(tx: UnitOfWork, receipt_id: int, reason: str, now: datetime) -> Decision:
    receipt = await tx.receipts.get(receipt_id)
    if receipt.status not in UNDECIDED:
        return Decision(receipt_id, receipt.status, False)
    await tx.receipts.set_status(receipt_id, ReceiptStatus.REJECTED, None, receipt.check_attempts)
    tx.events.add(event(Happened.RECEIPT_REJECTED, receipt.person_id, now, receipt_id=receipt_id,
                        reason=without_contacts(reason), by="staff"))
    if receipt.cashback_kopecks:
        await tx.ledger.post(ledger.reversal(receipt.person_id, receipt.cashback_kopecks), now, receipt_id=receipt_id)
    person = await tx.people.get(receipt.person_id)
    enqueue(tx, OutgoingMessage(person.id, "receipt.rejected", {
        "sum": ledger.format_roubles(receipt.sum_kopecks), "reason": reason}, person.locale), now)
    return Decision(receipt_id, ReceiptStatus.REJECTED, True)
