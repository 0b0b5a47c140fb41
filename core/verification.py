"""Receipts awaiting the tax service: ask again until it answers, then approve or reverse the cashback.

The tax service often says "not received yet" for a fresh receipt, sometimes for
days: that is never a refusal, only a later re-check. After ``max_attempts``
unanswered checks the receipt goes to staff review.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.events import OutgoingMessage
from core.ports import ReceiptStatus, Store, StoredReceipt
from promo import ledger

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 50


class CheckOutcome(StrEnum):
    CONFIRMED = "confirmed"  # the tax service has this receipt with these numbers
    NOT_YET = "not_yet"  # not received yet: ask again later
    INVALID = "invalid"  # no such receipt, or its numbers disagree
    UNAVAILABLE = "unavailable"  # the service failed to answer: ask again later


class ReceiptVerifier(Protocol):
    async def check(self, canonical: str) -> CheckOutcome: ...


class ReceiptChecker:
    def __init__(self, store: Store, verifier: ReceiptVerifier, clock: Callable[[], datetime],
                 interval: timedelta, max_attempts: int = 96, notify: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.verifier = verifier
        self.clock = clock
        self.interval = interval
        self.max_attempts = max_attempts
        self.notify = notify
        self._stopping = asyncio.Event()

    async def run(self, poll_seconds: float = 30.0) -> None:
        while not self._stopping.is_set():
            try:
                await self.check_due()
            except Exception:  # the loop must outlive one bad pass
                log.exception("receipt verification pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), poll_seconds)

    def stop(self) -> None:
        self._stopping.set()

    async def check_due(self) -> int:
        now = self.clock()
        async with self.store.transaction() as tx:
            due = await tx.receipts.due_for_check(now, now + LEASE, BATCH)
        for receipt in due:
            outcome = await self.verifier.check(receipt.canonical)
            await self._record(receipt, outcome)
        if due:
            self.notify()
        return len(due)

    async def _record(self, receipt: StoredReceipt, outcome: CheckOutcome) -> None:
        now = self.clock()
        async with self.store.transaction() as tx:
            person = await tx.people.get(receipt.person_id)
            params = {"sum": ledger.format_roubles(receipt.sum_kopecks),
                      "cashback": ledger.format_roubles(receipt.cashback_kopecks)}
            attempts = receipt.check_attempts + 1
            if outcome is CheckOutcome.CONFIRMED:
                await tx.receipts.set_status(receipt.id, ReceiptStatus.ACCEPTED, None, attempts)
                if receipt.cashback_kopecks:
                    await tx.ledger.post(ledger.approval(receipt.person_id, receipt.cashback_kopecks), now,
                                         receipt_id=receipt.id)
                tx.messages.enqueue(OutgoingMessage(person.id, "receipt.verified", params, person.locale), now)
            elif outcome is CheckOutcome.INVALID:
                await tx.receipts.set_status(receipt.id, ReceiptStatus.REJECTED, None, attempts)
                if receipt.cashback_kopecks:
                    await tx.ledger.post(ledger.reversal(receipt.person_id, receipt.cashback_kopecks), now,
                                         receipt_id=receipt.id)
                await tx.receipts.flag(receipt.id, receipt.person_id, "tax_service_rejected", now)
                tx.messages.enqueue(OutgoingMessage(person.id, "receipt.verification_failed", params,
                                                    person.locale), now)
            elif attempts >= self.max_attempts:  # never answered: staff decide
                await tx.receipts.set_status(receipt.id, ReceiptStatus.MODERATION, None, attempts)
                await tx.receipts.flag(receipt.id, receipt.person_id, "tax_service_no_answer", now)
            else:
                later = now + self.interval * min(attempts, 8)
                await tx.receipts.set_status(receipt.id, ReceiptStatus.VERIFYING, later, attempts)
