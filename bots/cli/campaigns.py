"""``campaign create|edit|list|show|activate|finish|example``: promo managers' campaigns, from TOML files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bots.cli import Tools
from bots.cli.draws import seed_seal
from core import campaigns
from core.ports import Store
from core.settings import Settings
from promo.beacon import QUICKNET
from promo.campaign_file import from_toml
from promo.campaigns import Campaign, CampaignError

EXAMPLE = '''# A campaign, as `promo campaign create milk.toml` reads it. Money in roubles, days inclusive.
code = "milk-spring"                 # also the packs' link: t.me/<bot>?start=milk-spring
title = "Весна с молоком"
time_zone = "Europe/Moscow"
starts_on = 2026-03-01
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

[weekly]                             # a draw over each week's purchases, on the next Monday
prizes = { certificate = 4 }
draw_weekday = "monday"
draw_time = "12:00"
reserves = 2

[final]                              # over the whole campaign
prizes = { tv = 1 }
draw_on = 2026-04-03
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
        _fail(f"{path}: {e.reason}: {e.detail}")
    raise AssertionError("unreachable")


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(1)


def _run(tools: Tools, work) -> object:  # type: ignore[no-untyped-def]
    async def run(store: Store) -> object:
        async with store.transaction() as tx:
            try:
                return await work(tx)
            except campaigns.CampaignRefused as e:
                return e

    result = tools.run(run)
    if isinstance(result, campaigns.CampaignRefused):
        _fail(str(result))
    return result


def describe(campaign: Campaign) -> str:
    lines = [f"{campaign.code}: {campaign.name} [{campaign.status.value}]",
             f"  {campaign.starts_on:%d.%m.%Y}–{campaign.ends_on:%d.%m.%Y} ({campaign.zone.key})",
             f"  receipts from {campaign.min_sum_kopecks / 100:.2f} ₽, {campaign.receipts_per_day}/day, "
             f"{campaign.receipts_per_hour}/hour; cashback {campaign.cashback_percent}%"]
    if campaign.products:
        lines.append(f"  products: {', '.join(campaign.products.include)}"
                     + (f" (not {', '.join(campaign.products.exclude)})" if campaign.products.exclude else ""))
    for tier in campaign.prizes:
        lines.append(f"  prize {tier.code}: {tier.name} ×{tier.quantity}")
    return "\n".join(lines)


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
        """A campaign's rules and its draws with their published commitments."""
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
