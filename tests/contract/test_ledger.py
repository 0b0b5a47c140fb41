"""The double-entry cashback ledger and payout requests: ``tx.ledger``."""

from __future__ import annotations

from core.ports import ReceiptStatus, Store
from core.ports.ledger import Payout, PayoutStatus
from promo import ledger
from promo.campaigns import Award
from promo.ledger import LedgerAccount, Movement, Posting
from tests.contract.helpers import NOW, abandon, at, new_people, new_person, read
from tests.contract.test_receipts import CAMPAIGN, fiscal

PENDING, AVAILABLE, REQUESTED = LedgerAccount.PENDING, LedgerAccount.AVAILABLE, LedgerAccount.REQUESTED


async def test_balances_sum_a_persons_postings_per_account(store: Store) -> None:
    person_id, other_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW)
        await tx.ledger.post(ledger.accrual(person_id, 300), NOW)
        await tx.ledger.post(ledger.approval(person_id, 500), at(minutes=1))
        await tx.ledger.post(ledger.payout_request(person_id, 200, 500), at(minutes=2))
        await tx.ledger.post(ledger.accrual(other_id, 7), NOW)
    assert await read(store, lambda tx: tx.ledger.balances(person_id)) == {PENDING: 300, AVAILABLE: 300,
                                                                           REQUESTED: 200}
    assert await read(store, lambda tx: tx.ledger.balances(other_id)) == {PENDING: 7}


async def test_an_account_that_sums_to_zero_is_still_listed(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW)
        await tx.ledger.post(ledger.approval(person_id, 500), NOW)
    assert await read(store, lambda tx: tx.ledger.balances(person_id)) == {PENDING: 0, AVAILABLE: 500}


async def test_a_person_without_postings_has_no_balances(store: Store) -> None:
    person_id = await new_person(store)
    assert await read(store, lambda tx: tx.ledger.balances(person_id)) == {}


async def test_balances_are_seen_within_the_unit_that_posted(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW)
        assert await tx.ledger.balances(person_id) == {PENDING: 500}


async def test_the_total_of_a_balanced_ledger_is_zero(store: Store) -> None:
    person_id, other_id = await new_people(store, 2)
    assert await read(store, lambda tx: tx.ledger.total()) == 0
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW)
        await tx.ledger.post(ledger.approval(person_id, 500), NOW)
        await tx.ledger.post(ledger.accrual(other_id, 300), NOW)
        await tx.ledger.post(ledger.reversal(other_id, 300), NOW)
    assert await read(store, lambda tx: tx.ledger.total()) == 0


async def test_the_total_sums_every_posting(store: Store) -> None:
    person_id = await new_person(store)
    unbalanced = Movement("accrual", ())
    # a movement past its own check, so the sum shows what the store adds up
    object.__setattr__(unbalanced, "postings", (Posting(PENDING, 5, person_id),
                                                Posting(LedgerAccount.EXPENSE, -2, None)))
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW)
        await tx.ledger.post(unbalanced, NOW)
    assert await read(store, lambda tx: tx.ledger.total()) == 3


async def test_a_posting_may_name_its_receipt_and_payout(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        receipt = await tx.receipts.add(person_id, CAMPAIGN, fiscal(1), "photo", ReceiptStatus.ACCEPTED,
                                        Award(500, 1, False), NOW, None)
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW, receipt_id=receipt.id)
        await tx.ledger.post(ledger.approval(person_id, 500), NOW, receipt_id=receipt.id)
        payout = await tx.ledger.add_payout(person_id, 500, "+79123456789", NOW)
        await tx.ledger.post(ledger.payout_request(person_id, 500, 500), NOW, payout_id=payout.id)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.payout(person_id, 500), at(days=1), payout_id=payout.id)
    assert await read(store, lambda tx: tx.ledger.balances(person_id)) == {PENDING: 0, AVAILABLE: 0, REQUESTED: 0}


async def test_postings_in_an_abandoned_unit_are_not_kept(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(person_id, 500), NOW)
    await abandon(store, lambda tx: tx.ledger.post(ledger.approval(person_id, 500), NOW))
    assert await read(store, lambda tx: tx.ledger.balances(person_id)) == {PENDING: 500}
    assert await read(store, lambda tx: tx.ledger.total()) == 0


# payouts ---------------------------------------------------------------------------------------------

async def test_a_payout_is_requested_then_paid(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        payout = await tx.ledger.add_payout(person_id, 1500, "+79123456789", NOW)
    assert payout == Payout(payout.id, person_id, 1500, "+79123456789", PayoutStatus.REQUESTED, NOW, None)
    assert await read(store, lambda tx: tx.ledger.get_payout(payout.id)) == payout
    async with store.transaction() as tx:
        assert await tx.ledger.settle_payout(payout.id, PayoutStatus.PAID, at(days=2))
    paid = await read(store, lambda tx: tx.ledger.get_payout(payout.id))
    assert (paid.status, paid.paid_at) == (PayoutStatus.PAID, at(days=2))
    assert await read(store, lambda tx: tx.ledger.get_payout(999_999)) is None


async def test_a_payout_is_settled_once_paid_or_cancelled_never_both(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        paid = await tx.ledger.add_payout(person_id, 100, "+79123456789", NOW)
        cancelled = await tx.ledger.add_payout(person_id, 200, "+79123456789", NOW)
    async with store.transaction() as tx:
        assert await tx.ledger.settle_payout(paid.id, PayoutStatus.PAID, at(hours=1))
        assert await tx.ledger.settle_payout(cancelled.id, PayoutStatus.CANCELLED, at(hours=1))
    async with store.transaction() as tx:  # settled already: nothing changes, and the caller moves no money
        assert not await tx.ledger.settle_payout(paid.id, PayoutStatus.CANCELLED, at(hours=2))
        assert not await tx.ledger.settle_payout(cancelled.id, PayoutStatus.PAID, at(hours=2))
    settled = [(p.status, p.paid_at) for p in await read(store, lambda tx: tx.ledger.payouts(person_id=person_id))]
    assert settled == [(PayoutStatus.PAID, at(hours=1)), (PayoutStatus.CANCELLED, None)]


async def test_payouts_are_listed_by_request_time_all_or_by_status(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        late = await tx.ledger.add_payout(first, 100, "+79123456789", at(hours=2))
        early = await tx.ledger.add_payout(second, 200, "+79998887766", at(hours=1))
        same_time = await tx.ledger.add_payout(first, 300, "+79123456789", at(hours=2))
        await tx.ledger.settle_payout(early.id, PayoutStatus.PAID, at(hours=3))
    listed = await read(store, lambda tx: tx.ledger.payouts())
    assert [p.id for p in listed] == [early.id, late.id, same_time.id]
    assert await read(store, lambda tx: tx.ledger.payouts(PayoutStatus.REQUESTED)) == [late, same_time]
    assert [p.id for p in await read(store, lambda tx: tx.ledger.payouts(PayoutStatus.PAID))] == [early.id]
    assert await read(store, lambda tx: tx.ledger.payouts(person_id=first)) == [late, same_time]
    assert await read(store, lambda tx: tx.ledger.payouts(PayoutStatus.REQUESTED, person_id=second)) == []


async def test_a_payout_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        kept = await tx.ledger.add_payout(person_id, 100, "+79123456789", NOW)

    async def request_and_pay(tx):
        await tx.ledger.add_payout(person_id, 200, "+79123456789", NOW)
        await tx.ledger.settle_payout(kept.id, PayoutStatus.PAID, NOW)

    await abandon(store, request_and_pay)
    assert await read(store, lambda tx: tx.ledger.payouts()) == [kept]


# merging ---------------------------------------------------------------------------------------------

async def test_reassign_moves_postings_and_payouts_and_restore_moves_exactly_them_back(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(survivor_id, 100), NOW)
        await tx.ledger.post(ledger.accrual(absorbed_id, 500), NOW)
        await tx.ledger.post(ledger.approval(absorbed_id, 200), NOW)
        payout = await tx.ledger.add_payout(absorbed_id, 200, "+79123456789", NOW)
    async with store.transaction() as tx:
        moved = await tx.ledger.reassign(absorbed_id, survivor_id)
    assert set(moved) == {"ledger_entries", "payouts"}
    assert len(moved["ledger_entries"]) == 3  # the person's own postings; the expense side belongs to no one
    assert moved["payouts"] == [payout.id]
    assert await read(store, lambda tx: tx.ledger.balances(survivor_id)) == {PENDING: 400, AVAILABLE: 200}
    assert await read(store, lambda tx: tx.ledger.balances(absorbed_id)) == {}
    assert (await read(store, lambda tx: tx.ledger.get_payout(payout.id))).person_id == survivor_id

    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(survivor_id, 1), NOW)
        assert await tx.ledger.restore({**moved, "receipts": [1]}, absorbed_id) == 4
    assert await read(store, lambda tx: tx.ledger.balances(absorbed_id)) == {PENDING: 300, AVAILABLE: 200}
    assert await read(store, lambda tx: tx.ledger.balances(survivor_id)) == {PENDING: 101}
    assert await read(store, lambda tx: tx.ledger.get_payout(payout.id)) == payout
    assert await read(store, lambda tx: tx.ledger.total()) == 0


async def test_reassign_of_a_person_without_money_moves_nothing(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(survivor_id, 100), NOW)
    async with store.transaction() as tx:
        assert await tx.ledger.reassign(absorbed_id, survivor_id) == {}
