"""A campaign's rules for receipts: period, minimal sum, sales only, daily limits, cashback, draw entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from promo.errors import PromoError
from promo.receipts import FiscalReceipt


class Refused(PromoError):
    """The receipt breaks a rule; ``reason`` names it (not_a_sale, before_start, after_end, …)."""


@dataclass(frozen=True)
class Campaign:
    code: str
    zone: ZoneInfo
    starts_on: date  # first day, in the campaign's zone
    ends_on: date  # last day, inclusive
    min_sum_kopecks: int
    receipts_per_day: int
    receipts_per_hour: int
    cashback_percent: Decimal
    cashback_cap_per_receipt_kopecks: int
    cashback_cap_per_person_kopecks: int
    kopecks_per_entry: int  # one draw entry per this much spent; 0: no draw
    max_entries_per_receipt: int = 100
    max_entries_per_person: int = 1000

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.starts_on, time.min, self.zone)

    @property
    def ends_at(self) -> datetime:
        """The first moment after the campaign."""
        return datetime.combine(self.ends_on + timedelta(days=1), time.min, self.zone)

    def day_bounds(self, moment: datetime) -> tuple[datetime, datetime]:
        """The campaign-local day around ``moment``: limits per day count in the campaign's zone."""
        local = moment.astimezone(self.zone).date()
        start = datetime.combine(local, time.min, self.zone)
        return start, start + timedelta(days=1)


@dataclass(frozen=True)
class Usage:
    """What the person (all their linked accounts together) has already done in this campaign."""

    receipts_today: int
    receipts_last_hour: int
    cashback_kopecks: int
    entries: int = 0


@dataclass(frozen=True)
class Award:
    cashback_kopecks: int
    entries: int
    capped: bool  # the person's cashback cap cut this receipt's cashback


# a fiscal document's time may legally run a few minutes ahead of the payment (and of our clock)
CLOCK_TOLERANCE = timedelta(minutes=5)


def judge(campaign: Campaign, receipt: FiscalReceipt, usage: Usage, now: datetime) -> Award:
    """What the receipt earns, or ``Refused`` with the first rule it breaks."""
    if not receipt.is_sale:
        raise Refused("not_a_sale", receipt.operation.name)
    if receipt.issued_at > now + CLOCK_TOLERANCE:
        raise Refused("in_future")
    if receipt.issued_at < campaign.starts_at:
        raise Refused("before_start")
    if receipt.issued_at >= campaign.ends_at:
        raise Refused("after_end")
    if receipt.sum_kopecks < campaign.min_sum_kopecks:
        raise Refused("below_min_sum")
    if usage.receipts_today >= campaign.receipts_per_day:
        raise Refused("daily_limit")
    if usage.receipts_last_hour >= campaign.receipts_per_hour:
        raise Refused("hourly_limit")
    percent = (Decimal(receipt.sum_kopecks) * campaign.cashback_percent / 100).to_integral_value(ROUND_DOWN)
    cashback = min(int(percent), campaign.cashback_cap_per_receipt_kopecks)
    room = max(0, campaign.cashback_cap_per_person_kopecks - usage.cashback_kopecks)
    entries = receipt.sum_kopecks // campaign.kopecks_per_entry if campaign.kopecks_per_entry else 0
    entries = min(entries, campaign.max_entries_per_receipt,
                  max(0, campaign.max_entries_per_person - usage.entries))
    return Award(min(cashback, room), entries, capped=cashback > room)
