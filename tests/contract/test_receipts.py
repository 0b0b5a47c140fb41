"""Receipts people sent, what they count against a campaign's limits, their checks and flags: ``tx.receipts``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from core.ports import ReceiptStatus, Store
from promo.campaigns import Award, Usage
from promo.receipts import FiscalReceipt, Operation
from tests.contract.helpers import NOW, abandon, at, conflicts, new_people, new_person, read

MOSCOW = timezone(timedelta(hours=3))
CAMPAIGN = "autumn"
ACCEPTED, VERIFYING, MODERATION, REJECTED = (ReceiptStatus.ACCEPTED, ReceiptStatus.VERIFYING,
                                             ReceiptStatus.MODERATION, ReceiptStatus.REJECTED)


def fiscal(number: int, sum_kopecks: int = 150_000) -> FiscalReceipt:
    return FiscalReceipt(datetime(2026, 11, 22, 18, 30, 15, tzinfo=MOSCOW), sum_kopecks, 7380440700123456,
                         number, 1_000_000 + number, Operation.SALE)


async def add(store: Store, person_id: int, number: int, *, status: ReceiptStatus = ACCEPTED,
              now: datetime = NOW, cashback: int = 100, entries: int = 1, campaign: str = CAMPAIGN,
              next_check_at: datetime | None = None):
    async with store.transaction() as tx:
        return await tx.receipts.add(person_id, campaign, fiscal(number), "photo", status,
                                     Award(cashback, entries, False), now, next_check_at)


async def test_an_added_receipt_reads_back_whole(store: Store) -> None:
    person_id = await new_person(store)
    receipt = fiscal(7, sum_kopecks=123_456)
    async with store.transaction() as tx:
        stored = await tx.receipts.add(person_id, CAMPAIGN, receipt, "typed", VERIFYING, Award(1234, 12, True),
                                       NOW, at(minutes=5))
    assert stored.id > 0
    assert (stored.person_id, stored.campaign, stored.canonical, stored.status, stored.source, stored.sum_kopecks,
            stored.cashback_kopecks, stored.entries, stored.check_attempts, stored.created_at, stored.issued_at) == (
        person_id, CAMPAIGN, receipt.canonical(), VERIFYING, "typed", 123_456, 1234, 12, 0, NOW, receipt.issued_at)
    assert await read(store, lambda tx: tx.receipts.get(stored.id)) == stored
    assert await read(store, lambda tx: tx.receipts.find(receipt.key)) == stored
    assert await read(store, lambda tx: tx.receipts.find((1, 2, 3))) is None


async def test_the_same_receipt_from_anyone_conflicts(store: Store) -> None:
    first, second = await new_people(store, 2)
    stored = await add(store, first, 7)
    award = Award(100, 1, False)
    await conflicts(store, lambda tx: tx.receipts.add(second, "other", fiscal(7, 99), "photo", ACCEPTED, award,
                                                      NOW, None))
    await conflicts(store, lambda tx: tx.receipts.add(first, CAMPAIGN, fiscal(7), "photo", ACCEPTED, award,
                                                      NOW, None))
    assert await read(store, lambda tx: tx.receipts.find(fiscal(7).key)) == stored


async def test_receipts_that_differ_in_any_part_of_the_key_are_different(store: Store) -> None:
    person_id = await new_person(store)
    base = fiscal(7)
    async with store.transaction() as tx:
        for receipt in (base, replace(base, fn=base.fn + 1), replace(base, document_number=8),
                        replace(base, fiscal_sign=base.fiscal_sign + 1)):
            await tx.receipts.add(person_id, CAMPAIGN, receipt, "photo", ACCEPTED, Award(1, 0, False), NOW, None)
    assert len(await read(store, lambda tx: tx.receipts.of_person(person_id))) == 4


async def test_of_person_lists_the_persons_receipts_in_order(store: Store) -> None:
    first, second = await new_people(store, 2)
    a = await add(store, first, 1)
    await add(store, second, 2)
    b = await add(store, first, 3, status=REJECTED)
    assert await read(store, lambda tx: tx.receipts.of_person(first)) == [a, b]


async def test_a_receipt_added_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    person_id = await new_person(store)

    async def add_and_flag(tx):
        stored = await tx.receipts.add(person_id, CAMPAIGN, fiscal(7), "photo", ACCEPTED, Award(1, 0, False), NOW,
                                       None)
        await tx.receipts.flag(stored.id, person_id, "duplicate", NOW)

    await abandon(store, add_and_flag)
    assert await read(store, lambda tx: tx.receipts.find(fiscal(7).key)) is None
    assert await read(store, lambda tx: tx.receipts.flags()) == []
    await add(store, person_id, 7)  # the key is free


# limits ---------------------------------------------------------------------------------------------

async def test_usage_counts_todays_and_last_hours_receipts_and_all_cashback_and_entries(store: Store) -> None:
    person_id, other_id = await new_people(store, 2)
    day = (at(hours=-9), at(hours=15))  # 00:00 to 24:00 of NOW's day
    await add(store, person_id, 1, now=at(hours=-10), cashback=1000, entries=1)  # yesterday
    await add(store, person_id, 2, now=at(hours=-9), cashback=200, entries=2)  # the very start of today
    await add(store, person_id, 3, now=at(minutes=-60), cashback=30, entries=3)  # exactly an hour ago
    await add(store, person_id, 4, now=at(minutes=-5), cashback=4, entries=4, status=VERIFYING)
    await add(store, person_id, 5, now=at(minutes=-4), cashback=5, entries=5, status=MODERATION)
    await add(store, person_id, 6, now=at(minutes=-3), cashback=60000, entries=60, status=REJECTED)
    await add(store, person_id, 7, now=at(minutes=-2), cashback=70000, entries=70, campaign="other")
    await add(store, other_id, 8, now=at(minutes=-1), cashback=80000, entries=80)
    await add(store, person_id, 9, now=at(hours=15), cashback=9, entries=9)  # tomorrow's first
    usage = await read(store, lambda tx: tx.receipts.usage(person_id, CAMPAIGN, day, at(hours=-1)))
    assert usage == Usage(receipts_today=4, receipts_last_hour=4, cashback_kopecks=1000 + 200 + 30 + 4 + 5 + 9,
                          entries=1 + 2 + 3 + 4 + 5 + 9)


async def test_usage_of_a_person_without_receipts_is_zero(store: Store) -> None:
    person_id = await new_person(store)
    usage = await read(store, lambda tx: tx.receipts.usage(person_id, CAMPAIGN, (at(hours=-9), at(hours=15)),
                                                           at(hours=-1)))
    assert usage == Usage(0, 0, 0, 0)


async def test_a_receipt_rejected_later_stops_counting(store: Store) -> None:
    person_id = await new_person(store)
    stored = await add(store, person_id, 1, status=VERIFYING, cashback=500)
    async with store.transaction() as tx:
        await tx.receipts.set_status(stored.id, REJECTED, None, 1)
    usage = await read(store, lambda tx: tx.receipts.usage(person_id, CAMPAIGN, (at(hours=-9), at(hours=15)),
                                                           at(hours=-1)))
    assert usage == Usage(0, 0, 0, 0)
    assert await read(store, lambda tx: tx.receipts.times_since(person_id, CAMPAIGN, at(hours=-1))) == []


async def test_times_since_lists_counted_receipts_oldest_first(store: Store) -> None:
    person_id, other_id = await new_people(store, 2)
    await add(store, person_id, 1, now=at(minutes=-90))
    await add(store, person_id, 2, now=at(minutes=-10))
    await add(store, person_id, 3, now=at(minutes=-60))
    await add(store, person_id, 4, now=at(minutes=-30), status=REJECTED)
    await add(store, person_id, 5, now=at(minutes=-20), campaign="other")
    await add(store, other_id, 6, now=at(minutes=-15))
    await add(store, person_id, 7, now=at(minutes=-5), status=VERIFYING)
    times = await read(store, lambda tx: tx.receipts.times_since(person_id, CAMPAIGN, at(minutes=-60)))
    assert times == [at(minutes=-60), at(minutes=-10), at(minutes=-5)]


# checks with the tax service -----------------------------------------------------------------------

async def test_set_status_stores_status_next_check_and_attempts(store: Store) -> None:
    person_id = await new_person(store)
    stored = await add(store, person_id, 1, status=VERIFYING, next_check_at=NOW)
    async with store.transaction() as tx:
        await tx.receipts.set_status(stored.id, MODERATION, None, 3)
    again = await read(store, lambda tx: tx.receipts.get(stored.id))
    assert again == replace(stored, status=MODERATION, check_attempts=3)
    assert await read(store, lambda tx: tx.receipts.due_for_check(at(days=9), at(days=10), 10)) == []


async def test_due_receipts_are_verifying_ones_whose_check_time_came_soonest_first(store: Store) -> None:
    person_id = await new_person(store)
    later = await add(store, person_id, 1, status=VERIFYING, next_check_at=at(minutes=-1))
    sooner = await add(store, person_id, 2, status=VERIFYING, next_check_at=at(minutes=-5))
    exactly = await add(store, person_id, 3, status=VERIFYING, next_check_at=NOW)
    await add(store, person_id, 4, status=VERIFYING, next_check_at=at(seconds=1))  # not yet
    await add(store, person_id, 5, status=VERIFYING, next_check_at=None)  # waiting for no check
    await add(store, person_id, 6, status=ACCEPTED, next_check_at=at(minutes=-9))
    await add(store, person_id, 7, status=MODERATION, next_check_at=at(minutes=-9))
    await add(store, person_id, 8, status=REJECTED, next_check_at=at(minutes=-9))
    async with store.transaction() as tx:
        due = await tx.receipts.due_for_check(NOW, at(minutes=2), 10)
    assert [r.id for r in due] == [sooner.id, later.id, exactly.id]
    assert due[0] == sooner


async def test_due_receipts_are_leased_until_the_time_given(store: Store) -> None:
    person_id = await new_person(store)
    first = await add(store, person_id, 1, status=VERIFYING, next_check_at=at(minutes=-3))
    second = await add(store, person_id, 2, status=VERIFYING, next_check_at=at(minutes=-2))
    third = await add(store, person_id, 3, status=VERIFYING, next_check_at=at(minutes=-1))
    async with store.transaction() as tx:
        assert [r.id for r in await tx.receipts.due_for_check(NOW, at(minutes=2), 2)] == [first.id, second.id]
    async with store.transaction() as tx:
        assert [r.id for r in await tx.receipts.due_for_check(at(minutes=1), at(minutes=3), 10)] == [third.id]
    async with store.transaction() as tx:
        assert await tx.receipts.due_for_check(at(minutes=1), at(minutes=4), 10) == []
    async with store.transaction() as tx:
        again = await tx.receipts.due_for_check(at(minutes=2), at(minutes=5), 10)
    assert [r.id for r in again] == [first.id, second.id]


async def test_a_lease_taken_in_an_abandoned_unit_is_undone(store: Store) -> None:
    person_id = await new_person(store)
    stored = await add(store, person_id, 1, status=VERIFYING, next_check_at=at(minutes=-1))
    await abandon(store, lambda tx: tx.receipts.due_for_check(NOW, at(minutes=2), 10))
    assert [r.id for r in await read(store, lambda tx: tx.receipts.due_for_check(NOW, at(minutes=2), 10))] == [
        stored.id]


# flags ----------------------------------------------------------------------------------------------

async def test_flags_are_listed_oldest_first_all_or_per_receipt(store: Store) -> None:
    first, second = await new_people(store, 2)
    a = await add(store, first, 1)
    b = await add(store, second, 2)
    async with store.transaction() as tx:
        await tx.receipts.flag(a.id, first, "duplicate", at(minutes=2))
        await tx.receipts.flag(b.id, second, "tax_service_no_answer", at(minutes=1))
        await tx.receipts.flag(a.id, second, "sent_by_another", at(minutes=3))
    flags = await read(store, lambda tx: tx.receipts.flags())
    assert [(f.receipt_id, f.person_id, f.reason, f.created_at, f.resolved_at) for f in flags] == [
        (b.id, second, "tax_service_no_answer", at(minutes=1), None),
        (a.id, first, "duplicate", at(minutes=2), None),
        (a.id, second, "sent_by_another", at(minutes=3), None)]
    assert len({f.id for f in flags}) == 3
    assert await read(store, lambda tx: tx.receipts.flags(a.id)) == [flags[1], flags[2]]
    assert await read(store, lambda tx: tx.receipts.flags(999_999)) == []


# merging --------------------------------------------------------------------------------------------

async def test_reassign_moves_receipts_and_flags_and_restore_moves_exactly_them_back(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    kept = await add(store, survivor_id, 1)
    mine = await add(store, absorbed_id, 2)
    also_mine = await add(store, absorbed_id, 3, status=REJECTED)
    async with store.transaction() as tx:
        await tx.receipts.flag(mine.id, absorbed_id, "duplicate", NOW)
        await tx.receipts.flag(kept.id, survivor_id, "duplicate", NOW)
    async with store.transaction() as tx:
        moved = await tx.receipts.reassign(absorbed_id, survivor_id)
    assert set(moved) == {"receipts", "receipt_flags"}
    assert sorted(moved["receipts"]) == [mine.id, also_mine.id]
    assert len(moved["receipt_flags"]) == 1
    assert [r.id for r in await read(store, lambda tx: tx.receipts.of_person(survivor_id))] == [
        kept.id, mine.id, also_mine.id]
    assert {f.person_id for f in await read(store, lambda tx: tx.receipts.flags())} == {survivor_id}
    usage = await read(store, lambda tx: tx.receipts.usage(survivor_id, CAMPAIGN, (at(hours=-9), at(hours=15)),
                                                           at(hours=-1)))
    assert usage.receipts_today == 2

    later = await add(store, survivor_id, 4)
    async with store.transaction() as tx:
        assert await tx.receipts.restore({**moved, "channel_accounts": [1]}, absorbed_id) == 3
    assert await read(store, lambda tx: tx.receipts.of_person(absorbed_id)) == [mine, also_mine]
    assert [r.id for r in await read(store, lambda tx: tx.receipts.of_person(survivor_id))] == [kept.id, later.id]
    flags = await read(store, lambda tx: tx.receipts.flags())
    assert [(f.receipt_id, f.person_id) for f in flags] == [(mine.id, absorbed_id), (kept.id, survivor_id)]


async def test_reassign_of_a_person_without_receipts_moves_nothing(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    await add(store, survivor_id, 1)
    async with store.transaction() as tx:
        assert await tx.receipts.reassign(absorbed_id, survivor_id) == {}
