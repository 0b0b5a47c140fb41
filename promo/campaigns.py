"""A campaign: its period, its rules for receipts (minimal sum, sales only, limits, cashback, draw entries,
product rules, anti-fraud limits), its prizes and draw schedule, and its status (draft -> active -> finished).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from promo.errors import PromoError
from promo.products import Basket, ProductRules, ReceiptItem
from promo.receipts import FiscalReceipt

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")  # also the deep-link payload: t.me/<bot>?start=<code>
PRIZE_NEEDS = frozenset({"address", "phone"})  # what a winner gives besides their full name


class CampaignError(PromoError):
    """A campaign that cannot run as declared; ``detail`` names the field and what is wrong."""


class Refused(PromoError):
    """The receipt breaks a rule; ``reason`` names it (not_a_sale, before_start, after_end, …)."""


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # being prepared: nobody can enter it
    ACTIVE = "active"  # takes receipts (within its period)
    FINISHED = "finished"  # over: takes nothing more; its draws may still be run


@dataclass(frozen=True)
class PrizeTier:
    """One kind of prize: ``quantity`` of them over all the campaign's draws, each worth ``value_kopecks``."""

    code: str
    name: str
    quantity: int
    value_kopecks: int = 0
    needs: frozenset[str] = frozenset()  # "address" (a parcel), "phone" (a top-up): besides the full name


@dataclass(frozen=True)
class DrawPlan:
    """One draw over the entries of purchases made ``entries_from``..``entries_to`` (campaign days, inclusive)."""

    code: str
    entries_from: date
    entries_to: date
    draw_at: datetime  # aware
    prizes: tuple[tuple[str, int], ...]  # (tier code, winners), in the order they are drawn
    reserves: int = 0  # reserve winners drawn per tier, promoted in order when a winner drops out


class LateReceipts(StrEnum):
    """What becomes of a receipt counted (accepted) only after its purchase's draw closed its list."""

    NEXT_DRAW = "next_draw"  # its entries go to the draw whose entry days it was counted in
    NO_DRAW = "no_draw"  # its entries count in no draw (its cashback stays)


MIN_BEACON_MARGIN = timedelta(minutes=10)  # the list is frozen and published well before the round exists


@dataclass(frozen=True)
class DrawRules:
    """How the campaign's draws are made unpredictable (``docs/draws.md``).

    ``beacon``: each draw mixes in a future drand round named when the campaign is activated; a campaign
    without one must say so (``beacon = "none"``), since then whoever knows the seed knows the outcome.
    """

    beacon: bool = True
    beacon_margin: timedelta = MIN_BEACON_MARGIN  # the round comes at least this long after the entries close
    late_receipts: LateReceipts = LateReceipts.NEXT_DRAW


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
    title: str = ""
    status: CampaignStatus = CampaignStatus.ACTIVE
    products: ProductRules | None = None  # only the brand's products count; the receipt waits for its items
    prizes: tuple[PrizeTier, ...] = ()
    draws: tuple[DrawPlan, ...] = ()
    receipts_per_shop_per_hour: int = 0  # more from one shop (INN) within an hour go to moderation; 0: no limit
    people_per_fiscal_drive: int = 0  # receipts of one till's drive from more people go to moderation; 0: no limit
    draw_rules: DrawRules = DrawRules()

    def __post_init__(self) -> None:
        check(self)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.starts_on, time.min, self.zone)

    @property
    def ends_at(self) -> datetime:
        """The first moment after the campaign."""
        return datetime.combine(self.ends_on + timedelta(days=1), time.min, self.zone)

    @property
    def name(self) -> str:
        return self.title or self.code

    @property
    def has_draw(self) -> bool:
        """Whether anything is drawn: entries of a campaign with no draw planned are chances of nothing."""
        return bool(self.draws)

    def day_bounds(self, moment: datetime) -> tuple[datetime, datetime]:
        """The campaign-local day around ``moment``: limits per day count in the campaign's zone."""
        local = moment.astimezone(self.zone).date()
        start = datetime.combine(local, time.min, self.zone)
        return start, start + timedelta(days=1)

    def days(self, first: date, last: date) -> tuple[datetime, datetime]:
        """From the start of ``first`` to the end of ``last``, campaign days."""
        return (datetime.combine(first, time.min, self.zone),
                datetime.combine(last + timedelta(days=1), time.min, self.zone))

    def tier(self, code: str) -> PrizeTier:
        for tier in self.prizes:
            if tier.code == code:
                return tier
        raise KeyError(code)

    def takes_receipts(self, now: datetime) -> bool:
        return self.status is CampaignStatus.ACTIVE and now < self.ends_at + CLOCK_TOLERANCE + LATE_UPLOAD


def check(campaign: Campaign) -> None:
    """``CampaignError`` naming the first field that cannot work."""
    if not CODE.match(campaign.code):
        raise CampaignError("code", "latin letters, digits, '-' and '_', up to 32, starting with a letter or digit")
    if campaign.ends_on < campaign.starts_on:
        raise CampaignError("ends_on", "the campaign ends before it starts")
    if campaign.receipts_per_day < 1 or campaign.receipts_per_hour < 1:
        raise CampaignError("receipts_per_day", "limits are at least 1")
    if not Decimal(0) <= campaign.cashback_percent <= Decimal(100):
        raise CampaignError("cashback_percent", "between 0 and 100")
    if min(campaign.min_sum_kopecks, campaign.cashback_cap_per_receipt_kopecks, campaign.kopecks_per_entry,
           campaign.cashback_cap_per_person_kopecks, campaign.max_entries_per_receipt,
           campaign.max_entries_per_person, campaign.receipts_per_shop_per_hour,
           campaign.people_per_fiscal_drive) < 0:
        raise CampaignError("rules", "amounts and limits cannot be negative")
    tiers = {tier.code for tier in campaign.prizes}
    if len(tiers) != len(campaign.prizes):
        raise CampaignError("prizes", "two prize tiers have the same code")
    for tier in campaign.prizes:
        if not CODE.match(tier.code) or tier.quantity < 1 or tier.value_kopecks < 0 or not tier.name.strip():
            raise CampaignError(f"prizes.{tier.code}", "needs a code, a name and a quantity of at least 1")
        if not tier.needs <= PRIZE_NEEDS:
            raise CampaignError(f"prizes.{tier.code}.needs", f"one of {', '.join(sorted(PRIZE_NEEDS))}")
    if not MIN_BEACON_MARGIN <= campaign.draw_rules.beacon_margin <= timedelta(days=7):
        raise CampaignError("draw_rules.beacon_margin_minutes", "from 10 minutes to 7 days")
    given: dict[str, int] = {}
    codes = set()
    for plan in campaign.draws:
        if not CODE.match(plan.code) or plan.code in codes:
            raise CampaignError(f"draws.{plan.code}", "each draw needs its own code")
        codes.add(plan.code)
        if plan.entries_to < plan.entries_from or plan.entries_from < campaign.starts_on \
                or plan.entries_to > campaign.ends_on:
            raise CampaignError(f"draws.{plan.code}", "its entry days must lie within the campaign")
        if plan.draw_at.tzinfo is None or plan.draw_at < datetime.combine(plan.entries_to + timedelta(days=1),
                                                                          time.min, campaign.zone):
            raise CampaignError(f"draws.{plan.code}.draw_at", "a time with its zone, after the entry days end")
        if not plan.prizes or plan.reserves < 0:
            raise CampaignError(f"draws.{plan.code}.prizes", "name the prize tiers it gives and how many")
        for tier, count in plan.prizes:
            if tier not in tiers or count < 1:
                raise CampaignError(f"draws.{plan.code}.prizes", f"unknown tier {tier!r} or a count below 1")
            given[tier] = given.get(tier, 0) + count
    for tier in campaign.prizes:
        if given.get(tier.code, 0) > tier.quantity:
            raise CampaignError(f"prizes.{tier.code}", f"the draws give {given[tier.code]}, more than its "
                                f"quantity {tier.quantity}")


def missed_draws(campaign: Campaign, now: datetime, plans: tuple[DrawPlan, ...] | None = None) -> list[str]:
    """Why each planned draw could not be held fairly if the campaign opened at ``now``: its time is past, or its
    entries closed while nobody could enter (a draft takes no receipts), so its list would be frozen empty."""
    missed = []
    for plan in campaign.draws if plans is None else plans:
        closes = campaign.days(plan.entries_from, plan.entries_to)[1]
        if plan.draw_at <= now:
            missed.append(f"draw {plan.code} was due {plan.draw_at.astimezone(campaign.zone):%d.%m.%Y %H:%M} "
                          f"({campaign.zone.key}), already past")
        elif closes <= now:
            missed.append(f"draw {plan.code}: its entries ({plan.entries_from:%d.%m}–{plan.entries_to:%d.%m.%Y}) "
                          f"closed before the campaign opened, nobody could enter it")
    return missed


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
    awaits_items: bool = False  # product rules: decided once the receipt's items are known


# a fiscal document's time may legally run a few minutes ahead of the payment (and of our clock)
CLOCK_TOLERANCE = timedelta(minutes=5)
LATE_UPLOAD = timedelta(days=3)  # a receipt of the last day may still be sent for a few days


def admit(campaign: Campaign, receipt: FiscalReceipt, usage: Usage, now: datetime) -> None:
    """``Refused`` with the first rule the receipt itself breaks (everything but its items)."""
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
    if (limit := limit_reached(campaign, usage)) is not None:
        raise Refused(limit)


def limit_reached(campaign: Campaign, usage: Usage) -> str | None:
    """The upload limit the person is at ("daily_limit", "hourly_limit"), whatever the next receipt: known
    before they type one in."""
    if usage.receipts_today >= campaign.receipts_per_day:
        return "daily_limit"
    if usage.receipts_last_hour >= campaign.receipts_per_hour:
        return "hourly_limit"
    return None


def reward(campaign: Campaign, spent_kopecks: int, usage: Usage, units: int | None = None) -> Award:
    """Cashback on ``spent_kopecks`` and draw entries (per unit when the product rules say so), within the caps."""
    percent = (Decimal(spent_kopecks) * campaign.cashback_percent / 100).to_integral_value(ROUND_DOWN)
    cashback = min(int(percent), campaign.cashback_cap_per_receipt_kopecks)
    room = max(0, campaign.cashback_cap_per_person_kopecks - usage.cashback_kopecks)
    per_item = campaign.products.entries_per_item if campaign.products else 0
    if per_item and units is not None:
        entries = units * per_item
    else:
        entries = spent_kopecks // campaign.kopecks_per_entry if campaign.kopecks_per_entry else 0
    entries = min(entries, campaign.max_entries_per_receipt, max(0, campaign.max_entries_per_person - usage.entries))
    return Award(min(cashback, room), entries, capped=cashback > room)


def judge(campaign: Campaign, receipt: FiscalReceipt, usage: Usage, now: datetime) -> Award:
    """What the receipt earns, or ``Refused`` with the first rule it breaks.

    Under product rules nothing is earned yet: the award waits for the receipt's items (``judge_items``).
    """
    admit(campaign, receipt, usage, now)
    if campaign.products is not None:
        return Award(0, 0, capped=False, awaits_items=True)
    return reward(campaign, receipt.sum_kopecks, usage)


def judge_items(campaign: Campaign, items: list[ReceiptItem], usage: Usage) -> tuple[Award, Basket]:
    """The award of a receipt whose items are known: cashback and entries on the matching products only."""
    if campaign.products is None:
        raise CampaignError("products", "this campaign has no product rules")
    basket = Basket(tuple(campaign.products.matching(items)))
    if not basket.items:
        raise Refused("no_matching_products")
    if basket.units < campaign.products.min_items:
        raise Refused("too_few_products", str(basket.units))
    return reward(campaign, basket.sum_kopecks, usage, basket.units), basket
