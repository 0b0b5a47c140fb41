"""A campaign written down: the mapping a manager's TOML file holds and the store keeps (as JSON).

``from_mapping`` reads it liberally (dates as TOML dates or ISO strings, money as numbers or
strings in roubles) and says which field is wrong; ``to_mapping`` writes the canonical form,
with weekly draws spelled out one by one, so what is stored reads back the same.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from promo.campaign_keys import problems
from promo.campaigns import Campaign, CampaignError, CampaignStatus, DrawPlan, DrawRules, LateReceipts, PrizeTier
from promo.products import ProductRuleError, ProductRules

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_FILE_BYTES = 1_000_000
MAX_DRAWS = 200
UNKNOWN_KEY = "unknown_key"  # the reason of a file refused for keys no reader takes


def _field(data: Mapping[str, Any], name: str, where: str, default: Any = ...) -> Any:
    if name in data:
        return data[name]
    if default is ...:
        raise CampaignError(f"{where}{name}", "is missing")
    return default


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        raise CampaignError(where, "expected a date like 2026-03-01, without a time")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as e:
        raise CampaignError(where, f"expected a date like 2026-03-01, got {value!r}") from e


def _moment(value: Any, zone: ZoneInfo, where: str) -> datetime:
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError as e:
            raise CampaignError(where, f"expected a time like 2026-03-09T12:00:00+03:00, got {value!r}") from e
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _clock(value: Any, where: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as e:
        raise CampaignError(where, f"expected a time of day like 12:00, got {value!r}") from e


def _kopecks(value: Any, where: str) -> int:
    amount = _decimal(value, where)
    if amount < 0:
        raise CampaignError(where, "cannot be negative")
    return int((amount * 100).to_integral_value())


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise CampaignError(where, f"expected a number, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as e:
        raise CampaignError(where, f"expected a number, got {value!r}") from e
    if not amount.is_finite():
        raise CampaignError(where, f"expected a number, got {value!r}")
    return amount


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CampaignError(where, f"expected a whole number, got {value!r}")
    return value


def _roubles(kopecks: int) -> str:
    return f"{kopecks // 100}.{kopecks % 100:02d}"


def _tiers(raw: Any) -> tuple[PrizeTier, ...]:
    if not isinstance(raw, list):
        raise CampaignError("prizes", "expected a list of [[prizes]] tables")
    tiers = []
    for index, item in enumerate(raw):
        where = f"prizes[{index}]."
        if not isinstance(item, Mapping):
            raise CampaignError(f"prizes[{index}]", "expected a table")
        needs = _field(item, "needs", where, [])
        if isinstance(needs, str):
            needs = [needs]
        tiers.append(PrizeTier(code=str(_field(item, "code", where)), name=str(_field(item, "name", where)),
                               quantity=_int(_field(item, "quantity", where), f"{where}quantity"),
                               value_kopecks=_kopecks(_field(item, "value", where, 0), f"{where}value"),
                               needs=frozenset(str(n) for n in needs)))
    return tuple(tiers)


def _prize_counts(raw: Any, where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise CampaignError(where, "expected a table of tier = count, e.g. { certificate = 5 }")
    return tuple((str(tier), _int(count, f"{where}.{tier}")) for tier, count in raw.items())


def _draws(data: Mapping[str, Any], zone: ZoneInfo, starts_on: date, ends_on: date) -> tuple[DrawPlan, ...]:
    plans: list[DrawPlan] = []
    for index, item in enumerate(_field(data, "draws", "", [])):
        where = f"draws[{index}]."
        if not isinstance(item, Mapping):
            raise CampaignError(f"draws[{index}]", "expected a table")
        plans.append(DrawPlan(code=str(_field(item, "code", where)),
                              entries_from=_date(_field(item, "entries_from", where), f"{where}entries_from"),
                              entries_to=_date(_field(item, "entries_to", where), f"{where}entries_to"),
                              draw_at=_moment(_field(item, "draw_at", where), zone, f"{where}draw_at"),
                              prizes=_prize_counts(_field(item, "prizes", where), f"{where}prizes"),
                              reserves=_int(_field(item, "reserves", where, 0), f"{where}reserves")))
    weekly = data.get("weekly")
    if weekly is not None:
        plans += weekly_draws(weekly, zone, starts_on, ends_on)
    final = data.get("final")
    if final is not None:
        where = "final."
        draw_on = _date(_field(final, "draw_on", where, ends_on + timedelta(days=1)), f"{where}draw_on")
        at = _clock(_field(final, "draw_time", where, "12:00"), f"{where}draw_time")
        plans.append(DrawPlan(str(final.get("code", "final")), starts_on, ends_on,
                              datetime.combine(draw_on, at, zone), _prize_counts(_field(final, "prizes", where),
                                                                                 f"{where}prizes"),
                              _int(_field(final, "reserves", where, 0), f"{where}reserves")))
    if len(plans) > MAX_DRAWS:
        raise CampaignError("draws", f"at most {MAX_DRAWS} draws")
    return tuple(plans)


def weekly_draws(spec: Mapping[str, Any], zone: ZoneInfo, starts_on: date, ends_on: date) -> list[DrawPlan]:
    """A draw per calendar week (Monday to Sunday, campaign days in its zone), held on ``draw_weekday`` of the
    week after it: a campaign starting on a Tuesday has a first week of six days, drawn the next week, and a
    last week cut at its end is a week of its own. One week, one following week: never two draws on one day."""
    where = "weekly."
    weekday = str(_field(spec, "draw_weekday", where, "monday")).lower()
    if weekday not in WEEKDAYS:
        raise CampaignError(f"{where}draw_weekday", f"one of {', '.join(WEEKDAYS)}")
    at = _clock(_field(spec, "draw_time", where, "12:00"), f"{where}draw_time")
    prizes = _prize_counts(_field(spec, "prizes", where), f"{where}prizes")
    reserves = _int(_field(spec, "reserves", where, 0), f"{where}reserves")
    plans, monday, number = [], starts_on - timedelta(days=starts_on.weekday()), 1
    while monday <= ends_on:
        first, last = max(monday, starts_on), min(monday + timedelta(days=6), ends_on)
        day = monday + timedelta(days=7 + WEEKDAYS.index(weekday))
        plans.append(DrawPlan(f"week-{number}", first, last, datetime.combine(day, at, zone), prizes, reserves))
        monday, number = monday + timedelta(days=7), number + 1
    return plans


def _draw_rules(raw: Any) -> DrawRules:
    """``[draw_rules]``: ``beacon = "drand" | "none"``, ``beacon_margin_minutes``, ``late_receipts``."""
    if not isinstance(raw, Mapping):
        raise CampaignError("draw_rules", "expected a table")
    beacon = str(raw.get("beacon", "drand"))
    if beacon not in ("drand", "none"):
        raise CampaignError("draw_rules.beacon", 'one of "drand" (a future public round mixed in) or "none"')
    late = str(raw.get("late_receipts", LateReceipts.NEXT_DRAW.value))
    if late not in {r.value for r in LateReceipts}:
        raise CampaignError("draw_rules.late_receipts", f"one of {', '.join(r.value for r in LateReceipts)}")
    margin = _int(raw.get("beacon_margin_minutes", 10), "draw_rules.beacon_margin_minutes")
    return DrawRules(beacon == "drand", timedelta(minutes=margin), LateReceipts(late))


def from_mapping(data: Mapping[str, Any], status: CampaignStatus | None = None) -> Campaign:
    """A campaign from its written form; ``CampaignError`` names the wrong field."""
    zone_name = str(data.get("time_zone", "Europe/Moscow"))
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CampaignError("time_zone", f"unknown time zone {zone_name!r} (try Europe/Moscow)") from e
    starts_on = _date(_field(data, "starts_on", ""), "starts_on")
    ends_on = _date(_field(data, "ends_on", ""), "ends_on")
    rules = data.get("receipts", {})
    products = data.get("products")
    fraud = data.get("anti_fraud", {})
    if not isinstance(rules, Mapping) or not isinstance(fraud, Mapping):
        raise CampaignError("receipts", "expected a table")
    try:
        product_rules = None if products is None else ProductRules(
            include=tuple(str(p) for p in _field(products, "include", "products.")),
            exclude=tuple(str(p) for p in products.get("exclude", ())),
            min_items=_int(products.get("min_items", 1), "products.min_items"),
            entries_per_item=_int(products.get("entries_per_item", 0), "products.entries_per_item"))
    except ProductRuleError as e:
        raise CampaignError("products", str(e)) from e
    raw_status = status or data.get("status", CampaignStatus.DRAFT)
    try:
        chosen_status = CampaignStatus(raw_status)
    except ValueError as e:
        raise CampaignError("status", "draft, active or finished") from e
    r = "receipts."
    return Campaign(
        code=str(_field(data, "code", "")), title=str(data.get("title", "")), zone=zone, starts_on=starts_on,
        ends_on=ends_on, status=chosen_status,
        min_sum_kopecks=_kopecks(rules.get("min_sum", 0), f"{r}min_sum"),
        receipts_per_day=_int(rules.get("per_day", 5), f"{r}per_day"),
        receipts_per_hour=_int(rules.get("per_hour", 3), f"{r}per_hour"),
        cashback_percent=_decimal(rules.get("cashback_percent", 0), f"{r}cashback_percent"),
        cashback_cap_per_receipt_kopecks=_kopecks(rules.get("cashback_cap_per_receipt", 0),
                                                  f"{r}cashback_cap_per_receipt"),
        cashback_cap_per_person_kopecks=_kopecks(rules.get("cashback_cap_per_person", 0),
                                                 f"{r}cashback_cap_per_person"),
        kopecks_per_entry=_kopecks(rules.get("roubles_per_entry", 0), f"{r}roubles_per_entry"),
        max_entries_per_receipt=_int(rules.get("max_entries_per_receipt", 100), f"{r}max_entries_per_receipt"),
        max_entries_per_person=_int(rules.get("max_entries_per_person", 1000), f"{r}max_entries_per_person"),
        products=product_rules, prizes=_tiers(data.get("prizes", [])),
        draws=_draws(data, zone, starts_on, ends_on),
        receipts_per_shop_per_hour=_int(fraud.get("receipts_per_shop_per_hour", 0),
                                        "anti_fraud.receipts_per_shop_per_hour"),
        people_per_fiscal_drive=_int(fraud.get("people_per_fiscal_drive", 0), "anti_fraud.people_per_fiscal_drive"),
        draw_rules=_draw_rules(data.get("draw_rules", {})))


def from_toml(text: str, status: CampaignStatus | None = None) -> Campaign:
    """A manager's file. Unknown keys are refused, all at once with their lines (a misspelt rule would keep its
    default unseen), together with the first wrong value the rest of the file has: nothing to find one by one."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise CampaignError("file", f"larger than {MAX_FILE_BYTES} bytes")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CampaignError("file", f"not valid TOML: {e}") from e
    unknown = problems(text, data)
    if not unknown:
        return from_mapping(data, status)
    try:
        from_mapping(data, status)
    except CampaignError as e:
        unknown.append(f"{e.reason}: {e.detail}")
    raise CampaignError(UNKNOWN_KEY, "\n".join(unknown))


def to_mapping(campaign: Campaign) -> dict[str, Any]:
    """The canonical written form (JSON-safe: dates and money as strings)."""
    data: dict[str, Any] = {
        "code": campaign.code, "title": campaign.title, "status": campaign.status.value,
        "time_zone": campaign.zone.key, "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "receipts": {
            "min_sum": _roubles(campaign.min_sum_kopecks), "per_day": campaign.receipts_per_day,
            "per_hour": campaign.receipts_per_hour, "cashback_percent": str(campaign.cashback_percent),
            "cashback_cap_per_receipt": _roubles(campaign.cashback_cap_per_receipt_kopecks),
            "cashback_cap_per_person": _roubles(campaign.cashback_cap_per_person_kopecks),
            "roubles_per_entry": _roubles(campaign.kopecks_per_entry),
            "max_entries_per_receipt": campaign.max_entries_per_receipt,
            "max_entries_per_person": campaign.max_entries_per_person},
        "anti_fraud": {"receipts_per_shop_per_hour": campaign.receipts_per_shop_per_hour,
                       "people_per_fiscal_drive": campaign.people_per_fiscal_drive},
        "prizes": [{"code": t.code, "name": t.name, "quantity": t.quantity, "value": _roubles(t.value_kopecks),
                    "needs": sorted(t.needs)} for t in campaign.prizes],
        "draws": [{"code": d.code, "entries_from": d.entries_from.isoformat(), "entries_to": d.entries_to.isoformat(),
                   "draw_at": d.draw_at.isoformat(), "prizes": dict(d.prizes), "reserves": d.reserves}
                  for d in campaign.draws],
        "draw_rules": {"beacon": "drand" if campaign.draw_rules.beacon else "none",
                       "beacon_margin_minutes": int(campaign.draw_rules.beacon_margin.total_seconds() // 60),
                       "late_receipts": campaign.draw_rules.late_receipts.value},
    }
    if campaign.products is not None:
        p = campaign.products
        data["products"] = {"include": list(p.include), "exclude": list(p.exclude), "min_items": p.min_items,
                            "entries_per_item": p.entries_per_item}
    return data
