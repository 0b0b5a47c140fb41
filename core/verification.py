"""Receipts awaiting the tax service: ask again until it answers, then approve, decide or reverse.

The tax service often says "not received yet" for a fresh receipt, sometimes for days: that
is never a refusal, only a later re-check. After ``max_attempts`` unanswered checks the
receipt goes to staff review. A confirmed receipt brings its shop (INN) and items: a
campaign's product rules decide its award on the matching items only, and its anti-fraud
limits (receipts per shop per hour, people per fiscal drive) send a receipt to moderation
instead of rewarding it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core.domain_events import Happened, event
from core.events import OutgoingMessage
from core.moderation import approved
from core.ports import ReceiptStatus, Store, StoredReceipt, UnitOfWork
from core.queueing import enqueue
from core.service import Periodic
from promo import ledger
from promo.campaigns import Campaign, Refused, judge_items
from promo.products import ReceiptItem

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 50
SHOP_WINDOW = timedelta(hours=1)


class CheckOutcome(StrEnum):
    CONFIRMED = "confirmed"  # the tax service has this receipt with these numbers
    NOT_YET = "not_yet"  # not received yet: ask again later
    INVALID = "invalid"  # no such receipt, or its numbers disagree
    UNAVAILABLE = "unavailable"  # the service failed to answer: ask again later
    LATER = "later"  # the service asks us to wait (quota, too soon): not counted as an attempt


@dataclass(frozen=True)
class CheckedReceipt:
    """What a confirming answer told about the receipt."""

    shop_inn: str | None = None
    items: list[ReceiptItem] | None = None  # None: the service does not give items
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    outcome: CheckOutcome
    receipt: CheckedReceipt | None = None
    detail: str = ""


class ReceiptVerifier(Protocol):
    async def check(self, canonical: str) -> CheckResult: ...


class ReceiptChecker:
    """Asks the receipt-check service about receipts due for a check; a service. The person hears the outcome
    through notices queued with it (the outbox wakes for their domain events)."""

    name = "receipt checks"

    def __init__(self, store: Store, verifier: ReceiptVerifier, clock: Callable[[], datetime],
                 interval: timedelta, max_attempts: int = 96, poll_seconds: float = 30.0,
                 close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.verifier = verifier
        self.clock = clock
        self.interval = interval
        self.max_attempts = max_attempts
        self._loop = Periodic(self.name, self.check_due, poll_seconds, close=close)

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        await self._loop.run()

    async def stop(self) -> None:
        await self._loop.stop()

    async def check_due(self) -> int:
        now = self.clock()
        async with self.store.transaction() as tx:
            due = await tx.receipts.due_for_check(now, now + LEASE, BATCH)
        for index, receipt in enumerate(due):
            result = await self.verifier.check(receipt.canonical)
            await self._record(receipt, result)
            if result.outcome is CheckOutcome.LATER:  # the service wants a pause: the rest wait for their lease
                log.info("receipt check asks to wait (%s); %d receipts put off", result.detail, len(due) - index - 1)
                break
        return len(due)

    async def _record(self, receipt: StoredReceipt, result: CheckResult) -> None:
        now = self.clock()
        async with self.store.transaction() as tx:
            attempts = receipt.check_attempts + 1
            outcome = result.outcome
            if outcome is CheckOutcome.CONFIRMED:
                await _confirmed(tx, receipt, result.receipt or CheckedReceipt(), attempts, now)
            elif outcome is CheckOutcome.INVALID:
                await _reject(tx, receipt, attempts, "tax_service_rejected", "receipt.verification_failed", now)
            elif outcome is CheckOutcome.LATER:
                await tx.receipts.set_status(receipt.id, ReceiptStatus.VERIFYING, now + self.interval,
                                             receipt.check_attempts)
            elif attempts >= self.max_attempts:  # never answered: staff decide
                await tx.receipts.set_status(receipt.id, ReceiptStatus.MODERATION, None, attempts)
                await tx.receipts.flag(receipt.id, receipt.person_id, "tax_service_no_answer", now)
            else:
                later = now + self.interval * min(attempts, 8)
                await tx.receipts.set_status(receipt.id, ReceiptStatus.VERIFYING, later, attempts)


def _params(receipt: StoredReceipt, cashback: int | None = None, entries: int | None = None) -> dict[str, Any]:
    return {"sum": ledger.format_roubles(receipt.sum_kopecks),
            "cashback": ledger.format_roubles(receipt.cashback_kopecks if cashback is None else cashback),
            "entries": receipt.entries if entries is None else entries}


async def _tell(tx: UnitOfWork, receipt: StoredReceipt, template: str, now: datetime, **params: Any) -> None:
    person = await tx.people.get(receipt.person_id)
    enqueue(tx, OutgoingMessage(person.id, template, {**_params(receipt), **params}, person.locale), now)


async def _reject(tx: UnitOfWork, receipt: StoredReceipt, attempts: int, flag: str | None, template: str,
                  now: datetime) -> None:
    await tx.receipts.set_status(receipt.id, ReceiptStatus.REJECTED, None, attempts)
    tx.events.add(event(Happened.RECEIPT_REJECTED, receipt.person_id, now, receipt_id=receipt.id,
                        reason=flag or template.rsplit(".", 1)[-1], by="tax_service"))
    if receipt.cashback_kopecks:
        await tx.ledger.post(ledger.reversal(receipt.person_id, receipt.cashback_kopecks), now, receipt_id=receipt.id)
    if flag:
        await tx.receipts.flag(receipt.id, receipt.person_id, flag, now)
    await _tell(tx, receipt, template, now)


async def _to_moderation(tx: UnitOfWork, receipt: StoredReceipt, attempts: int, flag: str, now: datetime) -> None:
    await tx.receipts.set_status(receipt.id, ReceiptStatus.MODERATION, None, attempts)
    await tx.receipts.flag(receipt.id, receipt.person_id, flag, now)
    await _tell(tx, receipt, "receipt.to_moderation", now)


async def suspicion(tx: UnitOfWork, campaign: Campaign, receipt: StoredReceipt, shop_inn: str | None) -> str | None:
    """The anti-fraud flag this receipt earns, if any: too many from one shop within an hour, or one
    fiscal drive shared by too many people."""
    if campaign.receipts_per_shop_per_hour and shop_inn:
        earlier = await tx.receipts.from_shop(campaign.code, shop_inn, receipt.issued_at - SHOP_WINDOW,
                                              receipt.issued_at, receipt.id)
        if earlier >= campaign.receipts_per_shop_per_hour:
            return "shop_burst"
    limit = campaign.people_per_fiscal_drive
    if limit and receipt.fn and await tx.receipts.people_on_drive(campaign.code, receipt.fn) > limit:
        return "fiscal_drive_shared"
    return None


async def _confirmed(tx: UnitOfWork, receipt: StoredReceipt, checked: CheckedReceipt, attempts: int,
                     now: datetime) -> None:
    await tx.receipts.record_check(receipt.id, checked.shop_inn, checked.items or [], checked.raw, now)
    campaign = await tx.campaigns.get(receipt.campaign)
    if campaign is not None:
        flag = await suspicion(tx, campaign, receipt, checked.shop_inn)
        if flag:
            await _to_moderation(tx, receipt, attempts, flag, now)
            return
    if campaign is not None and campaign.products is not None:
        if checked.items is None:  # the service gave no items: a person must look at the receipt
            await _to_moderation(tx, receipt, attempts, "items_unknown", now)
            return
        usage = await tx.receipts.usage(receipt.person_id, campaign.code, campaign.day_bounds(receipt.created_at),
                                        receipt.created_at - timedelta(hours=1))
        try:
            award, basket = judge_items(campaign, checked.items, usage)
        except Refused as refusal:
            await _reject(tx, receipt, attempts, None, f"receipt.refused_{refusal.reason}", now)
            return
        await tx.receipts.set_award(receipt.id, award.cashback_kopecks, award.entries)
        await tx.receipts.set_status(receipt.id, ReceiptStatus.ACCEPTED, None, attempts, at=now)
        approved(tx, receipt.person_id, receipt.id, award.cashback_kopecks, "tax_service", now)
        if award.cashback_kopecks:
            await tx.ledger.post(ledger.accrual(receipt.person_id, award.cashback_kopecks), now, receipt_id=receipt.id)
            await tx.ledger.post(ledger.approval(receipt.person_id, award.cashback_kopecks), now,
                                 receipt_id=receipt.id)
        await _tell(tx, receipt, "receipt.verified_products", now,
                    cashback=ledger.format_roubles(award.cashback_kopecks), entries=award.entries,
                    draw="1" if campaign.has_draw else "", products=basket.units,
                    products_sum=ledger.format_roubles(basket.sum_kopecks))
        return
    await tx.receipts.set_status(receipt.id, ReceiptStatus.ACCEPTED, None, attempts, at=now)
    approved(tx, receipt.person_id, receipt.id, receipt.cashback_kopecks, "tax_service", now)
    if receipt.cashback_kopecks:
        await tx.ledger.post(ledger.approval(receipt.person_id, receipt.cashback_kopecks), now, receipt_id=receipt.id)
    await _tell(tx, receipt, "receipt.verified", now)
