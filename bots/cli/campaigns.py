"""``campaign create|edit|list|show|activate|finish|example``: promo managers' campaigns, from TOML files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bots.cli import Tools
from bots.cli.draws import seed_seal
from core import campaigns
from core.draws import DrawRefused
from core.ports import Store
from core.settings import Settings
from promo.beacon import QUICKNET
from promo.campaign_file import UNKNOWN_KEY, WEEKDAYS, from_toml
from promo.campaigns import Campaign, CampaignError

EXAMPLE = '''# A campaign, as `promo campaign create milk.toml` reads it. Money in roubles, days inclusive.
code = "milk-spring"                 # also the packs' link: t.me/<bot>?start=milk-spring
title = "Весна с молоком"
time_zone = "Europe/Moscow"
starts_on = 2026-03-02               # weeks are calendar weeks, Monday to Sunday
ends_on = 2026-03-31

[receipts]
min_sum = 100
per_day = 5                          # receipts per person (all linked accounts together)
per_hour = 3
cashback_percent = 5
cashback_cap_per_receipt = 500
cashback_cap_per_person = 3000
roubles_per_entry = 100              # one draw entry per 100 roubles (of the brand's products, under [products])
max_entries_per_receipt = 100
max_entries_per_person = 1000

[products]                           # only the brand's products count (needs the receipt check)
include = ["чебаркуль*молоко", "чебаркуль*кефир"]   # '*' is anything; words match anywhere in the item's name
exclude = ["пакет"]
min_items = 1
entries_per_item = 1                 # 0: entries by roubles of the matching items

[anti_fraud]                         # more than these go to a moderator instead of being rewarded; 0: off
receipts_per_shop_per_hour = 30
people_per_fiscal_drive = 20

[[prizes]]
code = "certificate"
name = "Сертификат на 1000 ₽"
quantity = 20
value = 1000
needs = ["phone"]                    # what a winner gives besides the full name: "address", "phone"

[[prizes]]
code = "tv"
name = "Телевизор"
quantity = 1
value = 60000
needs = ["address", "phone"]

[weekly]                             # a draw per calendar week (a cut first or last week is its own),
                                     # on draw_weekday of the week after: week 30–31.03 on 06.04
prizes = { certificate = 4 }
draw_weekday = "monday"
draw_time = "12:00"
reserves = 2

[final]                              # over the whole campaign
prizes = { tv = 1 }
draw_on = 2026-04-07                 # default: the day after the campaign ends
draw_time = "12:00"
reserves = 3

[draw_rules]                         # docs/draws.md: each list is frozen and hashed when its entries close
beacon = "drand"                     # a future drand round, named at activation; "none": the seed alone decides
beacon_margin_minutes = 10           # the round comes at least this long after the entries close
late_receipts = "next_draw"          # a receipt counted after its draw's list closed: "next_draw" or "no_draw"
'''


def _read(path: Path) -> Campaign:
    try:
        return from_toml(path.read_text(encoding="utf-8"))
    except OSError as e:
        _fail(f"cannot read {path}: {e.strerror}")
    except UnicodeDecodeError:
        _fail(f"{path} is not UTF-8 text")
    except CampaignError as e:
        if e.reason == UNKNOWN_KEY:  # several problems, one a line
            _fail(f"{path}:\n" + "\n".join(f"  {problem}" for problem in e.detail.splitlines()))
        _fail(f"{path}: {e.reason}: {e.detail}")
    raise AssertionError("unreachable")


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(1)


def _run(tools: Tools, work) -> object:  # type: ignore[no-untyped-def]
    async def run(store: Store) -> object:
        try:  # a refusal leaves the transaction, so nothing it began (an activation half done) is kept
            async with store.transaction() as tx:
                return await work(tx)
        except (campaigns.CampaignRefused, DrawRefused) as e:
            return e

    result = tools.run(run)
    if isinstance(result, campaigns.CampaignRefused | DrawRefused):
        _fail(str(result))
    return result


def _money(kopecks: int) -> str:
    return f"{kopecks // 100}.{kopecks % 100:02d} ₽"


def _limit(value: int, what: str) -> str:
    return f"{what} {value}" if value else f"{what}: off"


def _rules(c: Campaign) -> list[str]:
    """Every rule the campaign applies, as the file states it (a 0 cap or limit is said to be off)."""
    lines = [f"  period: {c.starts_on:%d.%m.%Y}–{c.ends_on:%d.%m.%Y}, days in {c.zone.key}",
             f"  receipts: from {_money(c.min_sum_kopecks)}, at most {c.receipts_per_day} a day and "
             f"{c.receipts_per_hour} an hour per person (linked accounts together)"]
    if c.cashback_percent:
        lines.append(f"  cashback: {c.cashback_percent}%, at most {_money(c.cashback_cap_per_receipt_kopecks)} a "
                     f"receipt and {_money(c.cashback_cap_per_person_kopecks)} a person")
    else:
        lines.append("  cashback: none")
    per_item = c.products.entries_per_item if c.products else 0
    if per_item or c.kopecks_per_entry:
        unit = f"{per_item} per matching item" if per_item else f"one per {_money(c.kopecks_per_entry)}"
        lines.append(f"  draw entries: {unit}, at most {c.max_entries_per_receipt} a receipt and "
                     f"{c.max_entries_per_person} a person")
    else:
        lines.append("  draw entries: none")
    if c.products:
        lines.append(f"  products: {', '.join(c.products.include)}"
                     + (f" (not {', '.join(c.products.exclude)})" if c.products.exclude else "")
                     + f", at least {c.products.min_items} a receipt")
    lines.append(f"  to a moderator: {_limit(c.receipts_per_shop_per_hour, 'receipts of one shop an hour above')}; "
                 f"{_limit(c.people_per_fiscal_drive, 'people per fiscal drive above')}")
    for tier in c.prizes:
        needs = f", needs {', '.join(sorted(tier.needs))}" if tier.needs else ""
        lines.append(f"  prize {tier.code}: {tier.name} ×{tier.quantity}, {_money(tier.value_kopecks)} each{needs}")
    rules = c.draw_rules
    lines.append(f"  draw rules: beacon {'drand' if rules.beacon else 'none'}, margin "
                 f"{int(rules.beacon_margin.total_seconds() // 60)} min, late receipts {rules.late_receipts.value}")
    for plan in c.draws:
        day = plan.draw_at.astimezone(c.zone)
        lines.append(f"  planned draw {plan.code}: purchases {plan.entries_from:%d.%m}–{plan.entries_to:%d.%m.%Y}, "
                     f"drawn {WEEKDAYS[day.weekday()]} {day:%d.%m.%Y %H:%M} ({c.zone.key}): "
                     + ", ".join(f"{tier} ×{count}" for tier, count in plan.prizes)
                     + f", {plan.reserves} reserves a tier")
    return lines


def describe(campaign: Campaign) -> str:
    return "\n".join([f"{campaign.code}: {campaign.name} [{campaign.status.value}]", *_rules(campaign)])


def register(app: typer.Typer, tools: Tools) -> None:
    group = typer.Typer(help="Campaigns: create them from a TOML file, open them to people, close them.",
                        no_args_is_help=True)
    app.add_typer(group, name="campaign")

    @group.command("example")
    def example() -> None:
        """Print a commented campaign file to start from."""
        sys.stdout.write(EXAMPLE)

    @group.command("create")
    def create(file: Annotated[Path, typer.Argument(help="the campaign's TOML file (see: campaign example)")]) -> None:
        """Store a new campaign as a draft: nobody can enter it until it is activated."""
        campaign = _read(file)
        created = _run(tools, lambda tx: campaigns.create(tx, campaign, tools.now()))
        print(f"created (draft): {describe(created)}")  # type: ignore[arg-type]

    @group.command("edit")
    def edit(file: Annotated[Path, typer.Argument(help="the campaign's TOML file, with the same code")]) -> None:
        """Change a campaign's rules (a running one keeps its start, zone and draws)."""
        campaign = _read(file)
        changed = _run(tools, lambda tx: campaigns.edit(tx, campaign, tools.now()))
        print(f"changed: {describe(changed)}")  # type: ignore[arg-type]

    @group.command("list")
    def listing() -> None:
        """Every campaign: code, status, days, title."""
        print("code\tstatus\tstarts\tends\ttitle")
        for c in _run(tools, campaigns.listing):  # type: ignore[attr-defined]
            print(f"{c.code}\t{c.status.value}\t{c.starts_on}\t{c.ends_on}\t{c.title}")

    @group.command("show")
    def show(code: str) -> None:
        """Every rule of a campaign, its planned draws and, once active, their published commitments."""
        view = _run(tools, lambda tx: campaigns.view(tx, code))
        print(describe(view.campaign))  # type: ignore[attr-defined]
        for d in view.draws:  # type: ignore[attr-defined]
            print(f"  draw {d.id} {d.code} at {d.draw_at:%Y-%m-%d %H:%M} UTC [{d.status.value}] "
                  f"commitment {d.commitment}" + (f" beacon round {d.beacon_round}" if d.beacon_round else
                                                  " NO beacon round")
                  + (f" list SHA-256 {d.entries_hash} (frozen {d.frozen_at:%Y-%m-%d %H:%M} UTC)" if d.frozen_at
                     else ""))

    @group.command("activate")
    def activate(code: str) -> None:
        """Open a draft campaign to people; its draws' commitments are fixed now."""
        seal = seed_seal(Settings())
        view = _run(tools, lambda tx: campaigns.activate(tx, code, tools.now(), seal))
        print(f"activated: {describe(view.campaign)}")  # type: ignore[attr-defined]
        for d in view.draws:  # type: ignore[attr-defined]
            print(f"  draw {d.id} {d.code}: commitment {d.commitment}" + (
                f"; drand quicknet round {d.beacon_round} ({QUICKNET.time_of(d.beacon_round):%Y-%m-%d %H:%M:%S} UTC)"
                if d.beacon_round else ""))
            if not d.beacon_round:
                print(f"  WARNING: draw {d.code} names no beacon round (the campaign says beacon = \"none\"): "
                      f"whoever knows its seed knows its outcome", file=sys.stderr)

    @group.command("finish")
    def finish(code: str) -> None:
        """Stop taking receipts; draws already scheduled can still be run."""
        done = _run(tools, lambda tx: campaigns.finish(tx, code, tools.now()))
        print(f"finished: {done.code}")  # type: ignore[attr-defined]
