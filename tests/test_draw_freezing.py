"""Issue 22: a draw's outcome cannot be known or steered before it is run.

The list is frozen and its hash published by the draw keeper when the entries close, before the drand round named
at activation exists; a receipt sent or moderated after the close never changes that list (it goes to the next
draw, or to none, as the campaign says); the seed is not in the database in a readable form; a draw without a
round does not run unless its campaign says so. The timeline is September 2023, so the drand emulator can serve
the real quicknet round 657413 (2023-09-15 11:00:03 UTC) the activation names.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bots.drand import DrandRelays
from core import campaigns, draws, moderation
from core.bus import Bus, PublishingStore
from core.domain_events import Happened
from core.draws.sealing import SeedSeal
from core.ports.draws import Draw, DrawStatus
from promo import draws as algorithm
from promo.beacon import QUICKNET
from promo.campaigns import Campaign, DrawPlan, DrawRules, LateReceipts, PrizeTier
from storage.database import create_engine
from storage.sql import SqlStore
from tests.chat import Chat

ZONE = ZoneInfo("Europe/Moscow")
ROUND = 657413  # recorded by the drand emulator
SEAL = SeedSeal(secrets.token_bytes(32))
HOURS = 72
AUTUMN = Campaign(
    code="autumn", title="Осенний кешбэк", zone=ZONE, starts_on=date(2023, 9, 8), ends_on=date(2023, 9, 21),
    min_sum_kopecks=100_00, receipts_per_day=5, receipts_per_hour=5, cashback_percent=Decimal(5),
    cashback_cap_per_receipt_kopecks=500_00, cashback_cap_per_person_kopecks=3000_00, kopecks_per_entry=100_00,
    prizes=(PrizeTier("tv", "Телевизор", 1), PrizeTier("cert", "Сертификат", 3)),
    draws=(DrawPlan("week-1", date(2023, 9, 8), date(2023, 9, 14), datetime(2023, 9, 15, 14, 30, tzinfo=ZONE),
                    (("tv", 1),), reserves=1),
           DrawPlan("week-2", date(2023, 9, 15), date(2023, 9, 21), datetime(2023, 9, 22, 14, 30, tzinfo=ZONE),
                    (("cert", 1),))),
    # 14 hours after week 1's close (midnight in Moscow, 21:00 UTC) is 11:00:00 UTC: the first round after it is ROUND
    draw_rules=DrawRules(beacon_margin=timedelta(minutes=840)))
CLOSE = datetime(2023, 9, 14, 21, 0, tzinfo=UTC)  # week 1's entries close: Sep 15, 00:00 in Moscow
CLOSE_2 = datetime(2023, 9, 21, 21, 0, tzinfo=UTC)


def fiscal(i: int, day: int) -> str:
    return f"t=202309{day:02d}T1200&s=500.00&fn=7380440700123456&i={i}&fp=2964503817&n=1"


async def sends(engine, account: str, day: int, name: str) -> tuple[int, int]:
    """A person registers and sends one receipt of that September day; it waits for a moderator. (person, receipt)"""
    chat = Chat.telegram(engine, account)
    await chat.register(name=name, phone=f"+7 912 000-00-{account[-2:]}", email=None)
    assert await chat.send(fiscal(int(account), day)) == ["receipt.confirm"]
    assert await chat.press("receipt:yes") == ["receipt.accepted_moderation"]
    person = chat.last[0].person_id
    return person, (await _receipts(engine.store, person))[0]


async def _receipts(store, person: int) -> list[int]:
    async with store.transaction() as tx:
        return [r.id for r in await tx.receipts.of_person(person)]


async def approve(store, receipt: int, now: datetime) -> None:
    async with store.transaction() as tx:
        assert (await moderation.approve(tx, receipt, now)).changed


async def activated(store, clock, campaign: Campaign = AUTUMN) -> dict[str, Draw]:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    async with store.transaction() as tx:
        await campaigns.create(tx, campaign, clock())
        view = await campaigns.activate(tx, campaign.code, clock(), SEAL)
    return {d.code: d for d in view.draws}


async def stored(store, draw_id: int) -> tuple[Draw, bytes | None]:
    async with store.transaction() as tx:
        return await tx.draws.get(draw_id), await tx.draws.entry_list(draw_id)


@pytest.mark.parametrize("late", list(LateReceipts))
async def test_the_list_is_frozen_at_the_close_before_the_round_and_later_receipts_never_change_it(
        engine, store, clock, relay, late: LateReceipts) -> None:
    campaign = replace(AUTUMN, draw_rules=replace(AUTUMN.draw_rules, late_receipts=late))
    planned = await activated(store, clock, campaign)
    week = planned["week-1"]
    assert week.beacon_round == ROUND and QUICKNET.time_of(ROUND) >= CLOSE + timedelta(hours=14)  # named at once
    assert planned["week-2"].beacon_round is not None and QUICKNET.time_of(planned["week-2"].beacon_round) > CLOSE_2

    clock.now = datetime(2023, 9, 13, 9, 0, tzinfo=UTC)
    anna, anna_receipt = await sends(engine, "10", 12, "Анна Петрова")
    boris, boris_receipt = await sends(engine, "11", 12, "Борис Иванов")
    vera, vera_receipt = await sends(engine, "12", 13, "Вера Смирнова")  # dated in the window, undecided at the close
    for receipt in (anna_receipt, boris_receipt):
        await approve(store, receipt, clock())
    bus, published = Bus(), []  # what is published as it commits
    bus.subscribe(published.extend, Happened.DRAW_FROZEN)
    relays = DrandRelays([relay.base_url])
    keeper = draws.DrawKeeper(PublishingStore(store, bus), relays, clock, HOURS, seal=SEAL)
    try:
        await _through_the_close(engine, store, clock, keeper, planned, (anna, boris, vera, vera_receipt), late,
                                published)
    finally:
        await relays.close()


async def _through_the_close(engine, store, clock, keeper, planned, people, late, published) -> None:
    week = planned["week-1"]
    anna, boris, vera, vera_receipt = people

    clock.now = CLOSE - timedelta(seconds=1)
    await keeper.pass_once()
    assert not (await stored(store, week.id))[0].frozen  # entries still open
    clock.now = CLOSE + timedelta(seconds=20)  # the keeper's next pass after the close
    await keeper.pass_once()
    frozen, at_close = await stored(store, week.id)
    assert frozen.frozen_at == clock() < QUICKNET.time_of(ROUND) and frozen.beacon_round == ROUND
    assert at_close is not None and frozen.entries_hash == hashlib.sha256(at_close).hexdigest()
    assert (frozen.participants, frozen.entries) == (2, 10)
    key = bytes.fromhex(week.participant_key)
    assert {e.participant for e in algorithm.parse_entry_list(at_close)} == {
        algorithm.pseudonym(key, anna), algorithm.pseudonym(key, boris)}
    async with store.transaction() as tx:
        assert await draws.entry_list(tx, week.id) == at_close  # published from the close on
    assert [(e.data["draw_id"], e.data["list_sha256"]) for e in published] == [(week.id, frozen.entries_hash)]

    clock.now = CLOSE + timedelta(hours=1)  # a moderator decides, and a receipt of the window arrives, too late
    await approve(store, vera_receipt, clock())
    gleb, gleb_receipt = await sends(engine, "13", 14, "Глеб Орлов")
    await approve(store, gleb_receipt, clock())
    clock.now = QUICKNET.time_of(ROUND) + timedelta(minutes=1)  # the round is out; the draw is not due yet
    await keeper.pass_once()
    assert await stored(store, week.id) == (frozen, at_close)

    clock.now = week.draw_at + timedelta(minutes=1)
    await keeper.pass_once()
    drawn, kept = await stored(store, week.id)
    assert drawn.status is DrawStatus.DRAWN and kept == at_close and drawn.entries_hash == frozen.entries_hash
    assert drawn.beacon_randomness == "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
    async with store.transaction() as tx:
        assert {w.person_id for w in await tx.draws.winners(week.id)} == {anna, boris}
        assert (await draws.check(tx, week.id)).winners_match
    assert algorithm.commitment(bytes.fromhex(drawn.seed)) == week.commitment

    clock.now = CLOSE_2 + timedelta(seconds=20)
    await keeper.pass_once()
    second, second_list = await stored(store, planned["week-2"].id)
    key_2 = bytes.fromhex(second.participant_key)
    names = {e.participant for e in algorithm.parse_entry_list(second_list or b"")}
    expected = {vera, gleb} if late is LateReceipts.NEXT_DRAW else set()  # counted during week 2's days
    assert names == {algorithm.pseudonym(key_2, person) for person in expected} and second.frozen


async def test_the_seed_is_not_in_the_database_in_a_readable_form(database_url: str, tmp_path) -> None:
    engine = create_engine(database_url)
    store = SqlStore(engine)
    now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    try:
        async with store.transaction() as tx:
            await campaigns.create(tx, AUTUMN, now)
            view = await campaigns.activate(tx, AUTUMN.code, now, SEAL)
        async with engine.connect() as connection:
            rows = [tuple(row) for row in await connection.execute(text("SELECT * FROM draws"))]
        for draw in view.draws:
            seed = SEAL.open(draw.sealed_seed or "", draw.campaign, draw.code, draw.commitment)
            assert algorithm.commitment(seed) == draw.commitment and draw.seed == ""
            for value in (v for row in rows for v in row):
                as_bytes = value if isinstance(value, bytes) else str(value).encode()
                assert seed.hex().encode() not in as_bytes and seed not in as_bytes
                assert hashlib.sha256(as_bytes).hexdigest() != draw.commitment
            if database_url.startswith("sqlite"):  # the files themselves, as a backup holds them
                files = b"".join(path.read_bytes() for path in tmp_path.glob("promo.db*"))
                assert draw.commitment.encode() in files and seed.hex().encode() not in files and seed not in files
            with pytest.raises(draws.DrawRefused) as refused:  # another key, or another draw's label, opens nothing
                SeedSeal(secrets.token_bytes(32)).open(draw.sealed_seed or "", draw.campaign, draw.code,
                                                       draw.commitment)
            assert refused.value.reason == "seed_unreadable"
        first, second = view.draws
        with pytest.raises(draws.DrawRefused):
            SEAL.open(first.sealed_seed or "", second.campaign, second.code, second.commitment)
        async with store.transaction() as tx:  # without the key nothing is activated
            await campaigns.create(tx, replace(AUTUMN, code="winter"), now)
        with pytest.raises(campaigns.CampaignRefused) as no_key:
            async with store.transaction() as tx:
                await campaigns.activate(tx, "winter", now)
        assert no_key.value.reason == "no_seed_key" and "DRAW_SEED_KEY" in str(no_key.value)
    finally:
        await store.close()
        await engine.dispose()


async def test_a_draw_without_a_round_does_not_run_unless_its_campaign_says_so(engine, store, clock, relay) -> None:
    planned = await activated(store, clock)
    week = planned["week-1"]
    async with store.transaction() as tx:  # a draw scheduled before rounds were named at activation
        await tx.draws.save(replace(week, beacon_chain=None, beacon_round=None))
    clock.now = datetime(2023, 9, 13, 9, 0, tzinfo=UTC)
    _, receipt = await sends(engine, "20", 12, "Анна Петрова")
    await approve(store, receipt, clock())
    clock.now = week.draw_at + timedelta(minutes=1)  # the keeper was down at the close
    relays = DrandRelays([relay.base_url])
    try:
        with pytest.raises(draws.DrawRefused) as waiting:
            await draws.run_draw(store, week.id, clock(), relays, HOURS, seal=SEAL)
    finally:
        await relays.close()
    assert waiting.value.reason == "beacon_not_yet"
    late, _ = await stored(store, week.id)
    assert late.status is DrawStatus.SCHEDULED and late.frozen_at == clock()
    # the list is frozen now, so the round is named after now: nobody could know it when the list closed
    assert late.beacon_round is not None and QUICKNET.time_of(late.beacon_round) >= clock() + timedelta(minutes=840)
    with pytest.raises(draws.DrawRefused) as unnamed:
        async with store.transaction() as tx:
            await tx.draws.save(replace(late, beacon_chain=None, beacon_round=None))
            await draws.draw_now(tx, week.id, clock(), None, HOURS, seal=SEAL)
    assert unnamed.value.reason == "no_beacon" and 'beacon = "none"' in str(unnamed.value)

    quiet = replace(AUTUMN, code="plain", draw_rules=DrawRules(beacon=False))  # says so: the seed alone decides
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    async with store.transaction() as tx:
        await campaigns.create(tx, quiet, clock())
        (plain, _) = (await campaigns.activate(tx, "plain", clock(), SEAL)).draws
    assert plain.beacon_round is None
    clock.now = plain.draw_at + timedelta(minutes=1)
    assert (await draws.run_draw(store, plain.id, clock(), None, HOURS, seal=SEAL)).status is DrawStatus.DRAWN


async def test_an_unreachable_relay_leaves_the_draw_waiting_and_says_so(engine, store, clock, caplog) -> None:
    week = (await activated(store, clock))["week-1"]
    clock.now = datetime(2023, 9, 13, 9, 0, tzinfo=UTC)
    _, receipt = await sends(engine, "30", 12, "Анна Петрова")
    await approve(store, receipt, clock())
    down = DrandRelays(["http://127.0.0.1:9"])  # nothing listens there
    keeper = draws.DrawKeeper(store, down, clock, HOURS, seal=SEAL)
    try:
        clock.now = CLOSE + timedelta(seconds=20)
        await keeper.pass_once()
        clock.now = week.draw_at + timedelta(minutes=1)  # due, and round ROUND came out half an hour ago
        with caplog.at_level("WARNING", logger="core.draws.keeper"):
            await keeper.pass_once()
        with pytest.raises(draws.DrawRefused) as waiting:
            await draws.run_draw(store, week.id, clock(), down, HOURS, seal=SEAL)
    finally:
        await down.close()
    assert waiting.value.reason == "beacon_unavailable" and "never runs without it" in str(waiting.value)
    assert any("waits" in r.getMessage() and f"round {ROUND}" in r.getMessage() for r in caplog.records)
    still, _ = await stored(store, week.id)
    assert still.status is DrawStatus.SCHEDULED and still.beacon_round == ROUND and still.seed == ""
