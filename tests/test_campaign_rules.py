from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from promo.campaigns import Campaign, Refused, Usage, judge
from promo.receipts import parse

ZONE = ZoneInfo("Europe/Moscow")
CAMPAIGN = Campaign(code="c", zone=ZONE, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31),
                    min_sum_kopecks=100_00, receipts_per_day=2, receipts_per_hour=2,
                    cashback_percent=Decimal("5"), cashback_cap_per_receipt_kopecks=200_00,
                    cashback_cap_per_person_kopecks=500_00, kopecks_per_entry=300_00)
FRESH = Usage(0, 0, 0)
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=ZONE)  # after the campaign: every receipt of it is in the past


def receipt(t: str = "20260315T1842", s: str = "1249.50", n: int = 1):
    return parse(f"t={t}&s={s}&fn=7380440700123456&i=48213&fp=2964503817&n={n}", ZONE)


def test_cashback_is_a_share_rounded_down_in_kopecks() -> None:
    award = judge(CAMPAIGN, receipt(s="1249.50"), FRESH, NOW)
    assert award.cashback_kopecks == 6247 and award.entries == 4 and not award.capped


def test_cashback_is_capped_per_receipt_and_per_person() -> None:
    assert judge(CAMPAIGN, receipt(s="9000"), FRESH, NOW).cashback_kopecks == 200_00
    award = judge(CAMPAIGN, receipt(s="9000"), Usage(0, 0, 450_00), NOW)
    assert award.cashback_kopecks == 50_00 and award.capped
    assert judge(CAMPAIGN, receipt(s="9000"), Usage(0, 0, 500_00), NOW).cashback_kopecks == 0


@pytest.mark.parametrize(("kwargs", "usage", "reason"), [
    ({"n": 2}, FRESH, "not_a_sale"),
    ({"n": 4}, FRESH, "not_a_sale"),
    ({"t": "20260228T2359"}, FRESH, "before_start"),
    ({"t": "20260401T0000"}, FRESH, "after_end"),
    ({"s": "99.99"}, FRESH, "below_min_sum"),
    ({}, Usage(2, 0, 0), "daily_limit"),
    ({}, Usage(1, 2, 0), "hourly_limit"),
])
def test_each_rule_refuses_with_its_reason(kwargs: dict, usage: Usage, reason: str) -> None:
    with pytest.raises(Refused) as caught:
        judge(CAMPAIGN, receipt(**kwargs), usage, NOW)
    assert caught.value.reason == reason


def test_a_receipt_ahead_of_now_is_refused_beyond_the_clock_tolerance() -> None:
    now = datetime(2026, 3, 15, 18, 40, tzinfo=ZONE)
    assert judge(CAMPAIGN, receipt(t="20260315T1845"), FRESH, now)  # five minutes: a till's clock may run ahead
    with pytest.raises(Refused) as caught:
        judge(CAMPAIGN, receipt(t="20260315T1846"), FRESH, now)
    assert caught.value.reason == "in_future"


def test_entries_are_capped_per_receipt_and_per_person() -> None:
    capped = Campaign(**{**CAMPAIGN.__dict__, "max_entries_per_receipt": 5, "max_entries_per_person": 12})
    assert judge(capped, receipt(s="99999999.99"), FRESH, NOW).entries == 5
    assert judge(capped, receipt(s="99999999.99"), Usage(0, 0, 0, 10), NOW).entries == 2
    assert judge(capped, receipt(s="99999999.99"), Usage(0, 0, 0, 12), NOW).entries == 0


def test_period_edges_are_in_the_campaign_zone() -> None:
    assert judge(CAMPAIGN, receipt(t="20260301T0000"), FRESH, NOW)
    assert judge(CAMPAIGN, receipt(t="20260331T2359"), FRESH, NOW)
    start, end = CAMPAIGN.day_bounds(datetime(2026, 3, 10, 22, 30, tzinfo=ZoneInfo("UTC")))
    assert start == datetime(2026, 3, 11, tzinfo=ZONE) and (end - start).days == 1
