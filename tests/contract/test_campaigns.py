"""Campaigns as stored data: kept as written, codes unique, members move with a merge."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from promo.campaigns import Campaign, CampaignStatus, PrizeTier
from promo.products import ProductRules
from tests.contract.helpers import NOW, at, conflicts, new_person, read

MILK = Campaign(code="milk", title="Весна с молоком", zone=ZoneInfo("Asia/Yekaterinburg"),
                starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31), min_sum_kopecks=150_00, receipts_per_day=4,
                receipts_per_hour=2, cashback_percent=Decimal("7.5"), cashback_cap_per_receipt_kopecks=300_00,
                cashback_cap_per_person_kopecks=2000_00, kopecks_per_entry=50_00, status=CampaignStatus.DRAFT,
                products=ProductRules(("чебаркуль*молоко",), ("пакет",), 2, 1),
                prizes=(PrizeTier("car", "Автомобиль", 1, 1_500_000_00, frozenset({"address"})),))


async def test_a_campaign_reads_back_as_it_was_stored(store) -> None:
    async with store.transaction() as tx:
        await tx.campaigns.add(MILK, NOW)
    again = await read(store, lambda tx: tx.campaigns.get("milk"))
    assert again == MILK
    assert await read(store, lambda tx: tx.campaigns.get("kefir")) is None


async def test_a_code_is_one_campaign(store) -> None:
    async with store.transaction() as tx:
        await tx.campaigns.add(MILK, NOW)
    await conflicts(store, lambda tx: tx.campaigns.add(replace(MILK, title="другая"), NOW))


async def test_saving_changes_every_field_and_lists_follow_start_days(store) -> None:
    early = replace(MILK, code="early", starts_on=date(2026, 2, 1))
    async with store.transaction() as tx:
        await tx.campaigns.add(MILK, NOW)
        await tx.campaigns.add(early, NOW)
        await tx.campaigns.save(replace(MILK, status=CampaignStatus.ACTIVE, min_sum_kopecks=1), at(minutes=1))
    listed = await read(store, lambda tx: tx.campaigns.all())
    assert [c.code for c in listed] == ["early", "milk"]
    assert (listed[1].status, listed[1].min_sum_kopecks) == (CampaignStatus.ACTIVE, 1)


async def test_the_latest_joined_campaign_comes_first_and_memberships_move_with_a_merge(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        await tx.campaigns.join(anna, "milk", "link", NOW)
        await tx.campaigns.join(anna, "kefir", "chosen", at(minutes=5))
        await tx.campaigns.join(petr, "milk", "chosen", at(minutes=1))
    memberships = await read(store, lambda tx: tx.campaigns.memberships(anna))
    assert [(m.campaign, m.source) for m in memberships] == [("kefir", "chosen"), ("milk", "link")]
    async with store.transaction() as tx:
        moved = await tx.campaigns.reassign(petr, anna)
        assert [m.campaign for m in await tx.campaigns.memberships(anna)] == ["kefir", "milk", "milk"]
        assert await tx.campaigns.restore(moved, petr) == 1
        assert [m.campaign for m in await tx.campaigns.memberships(petr)] == ["milk"]
