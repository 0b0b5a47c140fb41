"""A campaign file as a manager writes it (issue 22 §5.3, §5.4): an unknown key is refused with its line and the
key meant, `campaign show` states every rule and a draft's planned draws, weekly draws are calendar weeks drawn
the week after, and a campaign whose draw is already past is not activated, on the command line or the console."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.cli import Tools, build_cli
from bots.cli.campaigns import EXAMPLE
from core import campaigns
from core.draws import DrawRefused
from core.draws.sealing import SeedSeal
from promo.campaign_file import UNKNOWN_KEY, from_toml, to_mapping
from promo.campaign_keys import unknown_keys
from promo.campaigns import CampaignError, CampaignStatus
from storage.memory import MemoryStore
from tests.test_console import PASSWORD, console_client

KEY = secrets.token_hex(32)
SEAL = SeedSeal(bytes.fromhex(KEY))


def _refused(text: str) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        from_toml(text)
    assert caught.value.reason == UNKNOWN_KEY, caught.value
    return caught.value.detail.splitlines()


def _line(text: str, starts: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(starts))


def test_unknown_keys_are_refused_all_at_once_with_their_line_and_the_key_meant() -> None:
    assert list(unknown_keys(to_mapping(from_toml(EXAMPLE)))) == []  # what is stored reads back: no false alarm
    text = (EXAMPLE.replace("per_day = 5", "recipts_per_day = 2")  # a misspelt limit kept its default of 5
            .replace('title = "', 'typo_field = 1\ntitle = "')
            .replace("cashback_cap_per_person = 3000", "cashback_cap_per_persn = 100")
            .replace('needs = ["phone"]', 'neds = ["phone"]')
            .replace("people_per_fiscal_drive = 20", "people_per_fiscal_drive = 20\nmax_entries_per_person = 9")
            .replace('draw_weekday = "monday"', 'draw_weekdy = "friday"')
            .replace("prizes = { tv = 1 }", "prizes = { tv = 1 }\nreserve = 3")
            .replace("beacon_margin_minutes = 10", "beacon_margin = 10")
            .replace("quantity = 1\n", "quantity = 0\n"))  # and a wrong value elsewhere, reported with them
    text += '\n[[extras]]\nnote = "x"\n'
    problems = _refused(text)
    assert problems == [
        f"line {_line(text, 'typo_field')}: unknown key 'typo_field' at the top level; valid keys: anti_fraud, code, "
        "draw_rules, draws, ends_on, final, prizes, products, receipts, starts_on, status, time_zone, title, weekly",
        f"line {_line(text, 'recipts_per_day')}: unknown key 'recipts_per_day' in [receipts]; did you mean 'per_day'?",
        f"line {_line(text, 'cashback_cap_per_persn')}: unknown key 'cashback_cap_per_persn' in [receipts]; "
        "did you mean 'cashback_cap_per_person'?",
        f"line {_line(text, 'max_entries_per_person = 9')}: unknown key 'max_entries_per_person' in [anti_fraud]; "
        "it belongs in [receipts]",
        f"line {_line(text, 'neds')}: unknown key 'neds' in [[prizes]] #1; did you mean 'needs'?",
        f"line {_line(text, 'draw_weekdy')}: unknown key 'draw_weekdy' in [weekly]; did you mean 'draw_weekday'?",
        f"line {_line(text, 'reserve = 3')}: unknown key 'reserve' in [final]; did you mean 'reserves'?",
        f"line {_line(text, 'beacon_margin =')}: unknown key 'beacon_margin' in [draw_rules]; "
        "did you mean 'beacon_margin_minutes'?",
        f"line {_line(text, '[[extras]]')}: unknown key 'extras' at the top level; did you mean 'draws'?",
        "prizes.tv: needs a code, a name and a quantity of at least 1"]
    # keys in inline tables, dotted keys and listed draws are found too
    inline = EXAMPLE[:EXAMPLE.index("[draw_rules]")].replace(
        'title = "', 'draw_rules = { beacon = "drand", beacn = "none" }\ntitle = "').replace(
        "entries_per_item = 1", 'entries_per_item = 1\nweekly_extra = { drawday = "x" }').replace(
        "people_per_fiscal_drive = 20", "people_per_fiscal_drive = 20\nextra.x = 1").replace(
        "prizes = { certificate = 4 }", "prizes = { certificate = 4 }\nsome = { x = 1 }").replace(
        "[final]", '[[draws]]\ncode = "x"\nentries_from = 2026-03-02\nentries_to = 2026-03-08\n'
                   'draw_at = 2026-03-10T12:00:00+03:00\nprizes = { certificate = 1 }\nreserves = 0\n'
                   'draw_on = 2026-03-10\n\n[final]')
    assert _refused(inline) == [
        f"line {_line(inline, 'draw_rules =')}: unknown key 'beacn' in [draw_rules]; did you mean 'beacon'?",
        f"line {_line(inline, 'weekly_extra')}: unknown key 'weekly_extra' in [products]; valid keys: "
        "entries_per_item, exclude, include, min_items",
        f"line {_line(inline, 'extra.x')}: unknown key 'extra' in [anti_fraud]; valid keys: "
        "people_per_fiscal_drive, receipts_per_shop_per_hour",
        f"line {_line(inline, 'some =')}: unknown key 'some' in [weekly]; valid keys: draw_time, draw_weekday, "
        "prizes, reserves",
        f"line {_line(inline, 'draw_on = 2026-03-10')}: unknown key 'draw_on' in [[draws]] #1; it belongs in "
        "[final]",
        "prizes.certificate: the draws give 21, more than its quantity 20"]


def test_weekly_draws_are_calendar_weeks_each_drawn_the_week_after_never_two_on_one_day() -> None:
    without_final = EXAMPLE[:EXAMPLE.index("[final]")] + EXAMPLE[EXAMPLE.index("[draw_rules]"):]
    tuesday = without_final.replace("starts_on = 2026-03-02", "starts_on = 2026-03-03")
    campaign = from_toml(tuesday)
    weeks = [(d.code, d.entries_from, d.entries_to, d.draw_at.date()) for d in campaign.draws]
    assert weeks == [  # Tuesday 3 March to Tuesday 31 March, in Moscow; drawn on the Monday after each week
        ("week-1", date(2026, 3, 3), date(2026, 3, 8), date(2026, 3, 9)),  # six days after the start, not 13
        ("week-2", date(2026, 3, 9), date(2026, 3, 15), date(2026, 3, 16)),
        ("week-3", date(2026, 3, 16), date(2026, 3, 22), date(2026, 3, 23)),
        ("week-4", date(2026, 3, 23), date(2026, 3, 29), date(2026, 3, 30)),
        ("week-5", date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 6))]  # the cut last week is its own
    assert all(d.draw_at.tzinfo == campaign.zone and (d.draw_at.hour, d.draw_at.minute) == (12, 0)
               for d in campaign.draws)
    wednesday = from_toml(tuesday.replace('draw_weekday = "monday"', 'draw_weekday = "wednesday"'))
    days = [d.draw_at.date() for d in wednesday.draws]
    assert days == [date(2026, 3, 11), date(2026, 3, 18), date(2026, 3, 25), date(2026, 4, 1), date(2026, 4, 8)]
    assert len(set(days)) == len(days)
    sunday_start = from_toml(tuesday.replace("starts_on = 2026-03-03", "starts_on = 2026-03-01").replace(
        "quantity = 20", "quantity = 24"))
    assert [(d.entries_from, d.entries_to) for d in sunday_start.draws[:2]] == [
        (date(2026, 3, 1), date(2026, 3, 1)), (date(2026, 3, 2), date(2026, 3, 8))]  # a one-day first week


def _cli(store: MemoryStore, now: datetime) -> tuple[CliRunner, object]:
    tools = Tools(lambda work: asyncio.run(work(store)), lambda: now)
    return CliRunner(), build_cli(tools, lambda: None)


def test_campaign_show_states_every_rule_and_a_drafts_planned_draws(tmp_path: Path) -> None:
    store = MemoryStore()
    runner, app = _cli(store, datetime(2026, 2, 20, 9, 0, tzinfo=UTC))
    (tmp_path / "milk.toml").write_text(EXAMPLE, encoding="utf-8")
    assert runner.invoke(app, ["campaign", "create", str(tmp_path / "milk.toml")]).exit_code == 0  # type: ignore
    shown = runner.invoke(app, ["campaign", "show", "milk-spring"])  # type: ignore[arg-type]
    assert shown.exit_code == 0, shown.output
    for rule in ("milk-spring: Весна с молоком [draft]",
                 "period: 02.03.2026–31.03.2026, days in Europe/Moscow",
                 "receipts: from 100.00 ₽, at most 5 a day and 3 an hour per person",
                 "cashback: 5%, at most 500.00 ₽ a receipt and 3000.00 ₽ a person",
                 "draw entries: 1 per matching item, at most 100 a receipt and 1000 a person",
                 "products: чебаркуль*молоко, чебаркуль*кефир (not пакет), at least 1 a receipt",
                 "to a moderator: receipts of one shop an hour above 30; people per fiscal drive above 20",
                 "prize certificate: Сертификат на 1000 ₽ ×20, 1000.00 ₽ each, needs phone",
                 "draw rules: beacon drand, margin 10 min, late receipts next_draw",
                 "planned draw week-1: purchases 02.03–08.03.2026, drawn monday 09.03.2026 12:00 (Europe/Moscow): "
                 "certificate ×4, 2 reserves a tier",
                 "planned draw week-5: purchases 30.03–31.03.2026, drawn monday 06.04.2026 12:00",
                 "planned draw final: purchases 02.03–31.03.2026, drawn tuesday 07.04.2026 12:00 (Europe/Moscow): "
                 "tv ×1, 3 reserves a tier"):
        assert rule in shown.output, (rule, shown.output)
    typo = tmp_path / "typo.toml"
    typo.write_text(EXAMPLE.replace("per_hour = 3", "per_hours = 3"), encoding="utf-8")
    refused = runner.invoke(app, ["campaign", "create", str(typo)])  # type: ignore[arg-type]
    assert refused.exit_code == 1
    assert f"line {_line(EXAMPLE, 'per_hour')}: unknown key 'per_hours' in [receipts]; did you mean 'per_hour'?" \
        in refused.output


def test_a_draw_already_past_stops_the_activation_on_the_command_line(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAW_SEED_KEY", KEY)
    store = MemoryStore()
    (tmp_path / "milk.toml").write_text(EXAMPLE, encoding="utf-8")
    late = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # week 1 was drawn on 9 March; week 2 is still open
    runner, app = _cli(store, late)
    assert runner.invoke(app, ["campaign", "create", str(tmp_path / "milk.toml")]).exit_code == 0  # type: ignore
    refused = runner.invoke(app, ["campaign", "activate", "milk-spring"])  # type: ignore[arg-type]
    assert refused.exit_code == 1
    assert "draw week-1 was due 09.03.2026 12:00 (Europe/Moscow), already past" in refused.output
    assert "week-2" not in refused.output
    assert "[draft]" in runner.invoke(app, ["campaign", "show", "milk-spring"]).output  # type: ignore[arg-type]
    runner, app = _cli(store, datetime(2026, 3, 1, 9, 0, tzinfo=UTC))  # in time: it opens
    opened = runner.invoke(app, ["campaign", "activate", "milk-spring"])  # type: ignore[arg-type]
    assert opened.exit_code == 0 and "[active]" in opened.output, opened.output


async def test_a_draw_past_or_closed_before_activation_is_refused_and_nothing_opens(store, clock) -> None:
    campaign = replace(from_toml(EXAMPLE), status=CampaignStatus.DRAFT)
    clock.now = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # week 1 closed at midnight; its draw is at noon, still ahead
    async with store.transaction() as tx:
        await campaigns.create(tx, campaign, clock())
    with pytest.raises(DrawRefused) as refused:
        async with store.transaction() as tx:
            await campaigns.activate(tx, campaign.code, clock(), SEAL)
    assert refused.value.reason == "draw_past"
    assert "draw week-1: its entries (02.03–08.03.2026) closed before the campaign opened" in str(refused.value)
    async with store.transaction() as tx:
        assert (await tx.campaigns.get(campaign.code)).status is CampaignStatus.DRAFT  # type: ignore[union-attr]
        assert await tx.draws.of_campaign(campaign.code) == []


async def test_the_console_refuses_the_activation_naming_the_draw(store, clock) -> None:
    clock.now = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)  # weeks 1 and 2 were drawn already
    async with store.transaction() as tx:
        await campaigns.create(tx, from_toml(EXAMPLE), clock())
    http = await console_client(store, clock, seal=SEAL)
    try:
        assert (await http.post("/console/login", data={"username": "ivan", "password": PASSWORD},
                                allow_redirects=False)).status == 302
        page = await (await http.get("/console/campaigns/milk-spring")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        answer = await http.post("/console/campaigns/milk-spring/activate", data={"csrf": csrf})
        body = await answer.text()
        assert answer.status == 409, body
        assert "draw week-1 was due 09.03.2026 12:00 (Europe/Moscow), already past" in body
        assert "draw week-2 was due 16.03.2026 12:00" in body
        typo = EXAMPLE.replace('code = "milk-spring"', 'code = "typo"').replace("per_hour = 3", "per_hours = 3")
        pasted = await http.post("/console/campaigns", data={"csrf": csrf, "toml": typo})  # the same reader
        assert pasted.status == 400
        assert (f"line {_line(typo, 'per_hours')}: unknown key &#39;per_hours&#39; in [receipts]; did you mean "
                "&#39;per_hour&#39;?") in await pasted.text()
    finally:
        await http.close()
    async with store.transaction() as tx:
        assert (await tx.campaigns.get("milk-spring")).status is CampaignStatus.DRAFT  # type: ignore[union-attr]
        assert await tx.draws.of_campaign("milk-spring") == []
