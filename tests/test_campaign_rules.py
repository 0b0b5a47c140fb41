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


def receipt(t: str = "20260315T1842", s: str = "1249.50", n: int = 1):
    return parse(f"t={t}&s={s}&fn=7380440700123456&i=48213&fp=2964503817&n={n}", ZONE)


def test_cashback_is_a_share_rounded_down_in_kopecks() -> None:
    award = judge(CAMPAIGN, receipt(s="1249.50"), FRESH)
    assert award.cashback_kopecks == 6247 and award.entries == 4 and not award.capped


def test_cashback_is_capped_per_receipt_and_per_person() -> None:
    assert judge(CAMPAIGN, receipt(s="9000"), FRESH).cashback_kopecks == 200_00
    award = judge(CAMPAIGN, receipt(s="9000"), Usage(0, 0, 450_00))
    assert award.cashback_kopecks == 50_00 and award.capped
    assert judge(CAMPAIGN, receipt(s="9000"), Usage(0, 0, 500_00)).cashback_kopecks == 0


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
        judge(CAMPAIGN, receipt(**kwargs), usage)
    assert caught.value.reason == reason


def test_period_edges_are_in_the_campaign_zone() -> None:
    assert judge(CAMPAIGN, receipt(t="20260301T0000"), FRESH)
    assert judge(CAMPAIGN, receipt(t="20260331T2359"), FRESH)
    start, end = CAMPAIGN.day_bounds(datetime(2026, 3, 10, 22, 30, tzinfo=ZoneInfo("UTC")))
    assert start == datetime(2026, 3, 11, tzinfo=ZONE) and (end - start).days == 1
