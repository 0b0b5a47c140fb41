from __future__ import annotations

import csv
import io

import pytest

from core import moderation
from core.payouts import as_csv, mark_paid, payouts_due
from core.ports import ReceiptStatus
from promo import ledger
from promo.ledger import LedgerAccount, LedgerError
from tests.chat import Chat


def test_every_movement_balances_and_refuses_floats() -> None:
    for movement in (ledger.accrual(1, 500), ledger.approval(1, 500), ledger.reversal(1, 500),
                     ledger.payout_request(1, 500, 500), ledger.payout(1, 500), ledger.payout_cancel(1, 500)):
        assert sum(p.amount_kopecks for p in movement.postings) == 0
    with pytest.raises(LedgerError):
        ledger.accrual(1, 5.0)  # type: ignore[arg-type]
    with pytest.raises(LedgerError):
        ledger.accrual(1, 0)
    with pytest.raises(LedgerError):
        ledger.payout_request(1, 501, 500)


def test_roubles_are_formatted_the_russian_way() -> None:
    assert ledger.format_roubles(123456789) == "1 234 567,89"
    assert ledger.format_roubles(5) == "0,05"


async def _earn(chat: Chat, count: int, store, now) -> None:
    """Receipts a moderator then approves: their cashback becomes available."""
    for i in range(count):
        await chat.send(f"t=20260315T1842&s=9000&fn=7380440700123456&i={i + 1}&fp=2964503817&n=1")
        assert await chat.press("receipt:yes") == ["receipt.accepted_moderation"]
    async with store.transaction() as tx:
        for receipt in await tx.receipts.with_status(ReceiptStatus.MODERATION):
            await moderation.approve(tx, receipt.id, now)


async def test_payout_to_the_verified_phone_moves_money_through_the_ledger(telegram: Chat, store, clock) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    await telegram.share_contact("+79123456789")
    await telegram.press("email:skip")
    await _earn(telegram, 2, store, clock())
    assert await telegram.send("/balance") == ["cashback.balance"]
    assert telegram.param("available") == "900,00"
    assert await telegram.send("/payout") == ["payout.confirm"]
    assert await telegram.press("payout:yes") == ["payout.requested"]
    await telegram.send("/balance")
    assert (telegram.param("available"), telegram.param("requested")) == ("0,00", "900,00")
    due = await payouts_due(store)
    assert [(r["phone"], r["amount_rub"], r["name"]) for r in due] == [("+79123456789", "900.00", "Анна")]
    assert next(iter(csv.DictReader(io.StringIO(as_csv(due)))))["amount_rub"] == "900.00"
    assert await mark_paid(store, int(due[0]["payout_id"]), clock())
    assert not await mark_paid(store, int(due[0]["payout_id"]), clock())
    assert await payouts_due(store) == []
    async with store.transaction() as tx:
        balances = await tx.ledger.balances(telegram.last[0].person_id)
        total = await tx.ledger.total()
    assert balances == {LedgerAccount.PENDING: 0, LedgerAccount.AVAILABLE: 0, LedgerAccount.REQUESTED: 0}
    assert total == 0


async def test_payout_needs_a_minimum_and_a_verified_phone(telegram: Chat, store, clock) -> None:
    await telegram.register()  # the phone was typed, so it is not verified
    assert await telegram.send("/balance") == ["cashback.balance"]
    assert telegram.last[0].params["can_withdraw"] == ""  # no "Withdraw" button at 0 ₽
    assert await telegram.send("/payout") == ["payout.too_little"]
    await _earn(telegram, 1, store, clock())
    await telegram.send("/balance")
    assert telegram.last[0].params["can_withdraw"] == "1"
    assert await telegram.send("/payout") == ["payout.phone_unverified"]
    assert await telegram.share_contact("+7 912 345-67-89") == ["phone.verified"]
    assert await telegram.send("/payout") == ["payout.confirm"]


async def test_someone_elses_number_does_not_verify(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.share_contact("+79990001122") == ["phone.mismatch"]
