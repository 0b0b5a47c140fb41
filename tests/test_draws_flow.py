"""Draws end to end through the engine: entries from accepted receipts, the draw, winners told without an
address, the winner's scenario, reserves promoted on refusal and on timeout, fraud and linked accounts.

The campaign here explicitly draws without a beacon (``beacon = "none"``): these tests are about winners; the list
frozen at the entries' close and the drand round are ``tests/test_draw_freezing.py``'s."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core import campaigns, draws, moderation
from core.draws import reach
from core.draws.sealing import SeedSeal
from core.merging import merge_persons
from core.ports import ReceiptStatus
from core.ports.draws import Draw, NewWinner, WinnerStatus
from promo import draws as algorithm
from promo.campaigns import Campaign, DrawPlan, DrawRules, PrizeTier
from tests.chat import Chat

ZONE = ZoneInfo("Europe/Moscow")
SPRING = Campaign(
    code="spring", title="Осенний кешбэк", zone=ZONE, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30),
    min_sum_kopecks=100_00, receipts_per_day=5, receipts_per_hour=5, cashback_percent=Decimal(5),
    cashback_cap_per_receipt_kopecks=500_00, cashback_cap_per_person_kopecks=3000_00, kopecks_per_entry=100_00,
    prizes=(PrizeTier("tv", "Телевизор", 1, 60000_00, frozenset({"address", "phone"})),
            PrizeTier("cert", "Сертификат", 4, 1000_00)),
    draws=(DrawPlan("week", date(2026, 11, 16), date(2026, 11, 22), datetime(2026, 11, 23, 18, 0, tzinfo=ZONE),
                    (("tv", 1),), reserves=2),
           DrawPlan("final", date(2026, 11, 1), date(2026, 11, 30), datetime(2026, 12, 1, 12, 0, tzinfo=ZONE),
                    (("cert", 2),), reserves=1)),
    draw_rules=DrawRules(beacon=False))
HOURS = 72
SEAL = SeedSeal(secrets.token_bytes(32))  # DRAW_SEED_KEY of these tests
BEFORE_CLOSE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # the week's entries close on Nov 22 at 21:00 UTC


def fiscal(i: int, s: str = "500.00") -> str:
    return f"t=20261120T1200&s={s}&fn=7380440700123456&i={i}&fp=2964503817&n=1"


@pytest.fixture
async def spring(store, clock):
    clock.now = BEFORE_CLOSE  # people send their receipts while the week's entries are open
    async with store.transaction() as tx:
        await campaigns.create(tx, SPRING, clock())
        view = await campaigns.activate(tx, "spring", clock(), SEAL)
    return {d.code: d for d in view.draws}


async def run_at_its_time(store, clock, draw: Draw) -> Draw:
    """The draw run at its time (its list frozen first, as of its entries' close)."""
    clock.now = draw.draw_at + timedelta(minutes=1)
    return await draws.run_draw(store, draw.id, clock(), None, HOURS, seal=SEAL)


async def participant(engine, account: str, receipts: list[str], store, clock, name: str = "Анна Петрова") -> int:
    chat = Chat.telegram(engine, account)
    await chat.register(name=name, phone=f"+7 912 000-{int(account) % 100:02d}-{int(account) // 100 % 100:02d}",
                        email=None)
    for text in receipts:
        assert await chat.send(text) == ["receipt.confirm"], text
        assert await chat.press("receipt:yes") == ["receipt.accepted_moderation"]
    async with store.transaction() as tx:
        for receipt in await tx.receipts.with_status(ReceiptStatus.MODERATION):
            await moderation.approve(tx, receipt.id, clock())
    return chat.last[0].person_id


async def test_a_draw_tells_its_winner_who_confirms_and_anyone_can_recompute_it(engine, store, clock, spring) -> None:
    people = [await participant(engine, f"10{i}", [fiscal(10 * i + 1)], store, clock) for i in range(3)]
    week = spring["week"]
    assert week.seed == "" and week.commitment == algorithm.commitment(
        SEAL.open(week.sealed_seed or "", "spring", "week", week.commitment))  # sealed until the draw
    with pytest.raises(draws.DrawRefused):  # not before its time
        await draws.run_draw(store, week.id, clock(), None, HOURS, seal=SEAL)
    drawn = await run_at_its_time(store, clock, week)
    assert (drawn.participants, drawn.entries, drawn.excluded) == (3, 15, 0)
    async with store.transaction() as tx:
        winners = await tx.draws.winners(week.id)
        notices = await tx.messages.entries(template="draw.won")
        data = await draws.entry_list(tx, week.id)
        assert (await draws.check(tx, week.id)).winners_match
        protocol = await draws.protocol_html(tx, week.id)
        published = await draws.winners_csv(tx, week.id)
    assert [(w.reserve, w.status) for w in winners] == [(False, WinnerStatus.NOTIFIED), (True, WinnerStatus.RESERVE),
                                                        (True, WinnerStatus.RESERVE)]
    assert {w.person_id for w in winners} == set(people)
    (notice,) = notices
    assert notice.channel is None and notice.person_id == winners[0].person_id  # the router picks the channel
    assert notice.deadline == winners[0].deadline  # unanswered, it escalates over channels until the deadline
    again = algorithm.verify(data, drawn.seed, drawn.tiers)
    assert [p.participant for p in again.picks] == [w.participant for w in winners]
    assert drawn.seed in protocol and week.commitment in protocol and "Анна" not in protocol + published
    assert b"+7" not in data and "Анна".encode() not in data

    winner = Chat.telegram(engine, f"10{people.index(winners[0].person_id)}")
    assert await winner.send(f"/prize {winners[0].id}") == ["prize.offer"]
    assert await winner.press("prize:accept") == ["prize.ask_full_name"]
    assert await winner.send("Анна") == ["prize.bad_full_name", "prize.ask_full_name"]
    assert await winner.send("Петрова Анна Сергеевна") == ["prize.ask_address"]
    assert await winner.send("дом") == ["prize.bad_address", "prize.ask_address"]
    assert await winner.send("620000, Екатеринбург, ул. Ленина, 1, кв. 2") == ["prize.ask_phone"]
    assert await winner.send("8 912 345-67-89") == ["prize.check"]
    assert await winner.press("prize:confirm") == ["prize.confirmed"]
    async with store.transaction() as tx:
        confirmed = await tx.draws.winner(winners[0].id)
        sent = await draws.mark_sent(tx, winners[0].id, clock())
    assert confirmed.status is WinnerStatus.CONFIRMED and confirmed.details["phone"] == "+79123456789"
    assert sent.status is WinnerStatus.SENT


async def test_silence_until_the_deadline_hands_the_prize_to_the_next_reserve(engine, store, clock, spring) -> None:
    for i in range(3):
        await participant(engine, f"20{i}", [fiscal(20 * i + 1)], store, clock)
    await run_at_its_time(store, clock, spring["week"])
    keeper = draws.DrawKeeper(store, None, clock, HOURS)
    clock.advance(hours=HOURS - 1)
    await keeper.pass_once()
    async with store.transaction() as tx:
        assert [w.status for w in await tx.draws.winners(spring["week"].id)][:2] == [WinnerStatus.NOTIFIED,
                                                                                     WinnerStatus.RESERVE]
    clock.advance(hours=2)
    await keeper.pass_once()
    async with store.transaction() as tx:
        first, second, third = await tx.draws.winners(spring["week"].id)
        notices = await tx.messages.entries(template="draw.won")
    assert (first.status, second.status, third.status) == (WinnerStatus.EXPIRED, WinnerStatus.NOTIFIED,
                                                           WinnerStatus.RESERVE)
    assert second.deadline == clock() + timedelta(hours=HOURS)
    assert [n.person_id for n in notices] == [first.person_id, second.person_id]


async def test_a_refusal_promotes_the_next_reserve_at_once(engine, store, clock, spring) -> None:
    accounts = {}
    for i in range(2):
        accounts[await participant(engine, f"30{i}", [fiscal(30 * i + 1)], store, clock)] = f"30{i}"
    await run_at_its_time(store, clock, spring["week"])
    async with store.transaction() as tx:
        first, second = await tx.draws.winners(spring["week"].id)
    chat = Chat.telegram(engine, accounts[first.person_id])
    assert await chat.send("/prize") == ["prize.offer"]
    assert await chat.press("prize:decline") == ["prize.confirm_decline"]
    assert await chat.press("prize:decline_yes") == ["prize.declined"]
    assert await chat.send("/prize") == ["prize.none"]
    async with store.transaction() as tx:
        first, second = await tx.draws.winners(spring["week"].id)
    assert (first.status, second.status) == (WinnerStatus.DECLINED, WinnerStatus.NOTIFIED)


async def test_linked_accounts_are_one_participant_and_only_a_moderators_exclusion_leaves_anyone_out(
        engine, store, clock, spring) -> None:
    anna = await participant(engine, "401", [fiscal(41)], store, clock)
    anna_vk = await participant(engine, "402", [fiscal(42), fiscal(43)], store, clock, name="Анна Вконтакте")
    cheat = await participant(engine, "403", [fiscal(44)], store, clock)
    flagged = await participant(engine, "404", [fiscal(45)], store, clock, name="Вера Смирнова")
    async with store.transaction() as tx:
        await merge_persons(tx, anna, anna_vk, "linked", clock())
        (receipt,) = await tx.receipts.of_person(cheat)
        await tx.receipts.flag(receipt.id, cheat, "fiscal_drive_shared", clock())
        (receipt,) = await tx.receipts.of_person(flagged)
        await tx.receipts.flag(receipt.id, flagged, "sent_by_another_person", clock())  # flagged, not decided on
        await draws.exclude(tx, "spring", cheat, "fiscal_drive_shared", "одна касса на троих", None, clock())
    drawn = await run_at_its_time(store, clock, spring["week"])
    assert (drawn.participants, drawn.entries, drawn.excluded) == (2, 20, 1)
    assert [(x.person_id, x.reason) for x in drawn.exclusions] == [(cheat, "fiscal_drive_shared")]
    async with store.transaction() as tx:
        assert {w.person_id for w in await tx.draws.winners(drawn.id)} == {anna, flagged}
        told = [m for m in await tx.messages.entries(cheat, "draw.excluded")]
        protocol = await draws.protocol_html(tx, drawn.id)
    assert len(told) == 1 and told[0].params["reason"] == "чеки одной кассы от разных людей"
    assert f"<code>{drawn.exclusions[0].participant}</code></td><td><code>fiscal_drive_shared</code>" in protocol


async def test_a_tier_won_before_in_the_campaign_is_not_won_again(engine, store, clock, spring) -> None:
    lucky = await participant(engine, "501", [fiscal(51, s="5000.00")], store, clock)
    async with store.transaction() as tx:
        draw = await tx.draws.get(spring["week"].id)
    # an earlier draw of the campaign that gave the same tier to this person
    async with store.transaction() as tx:
        earlier = await tx.draws.add("spring", "earlier", date(2026, 11, 1), date(2026, 11, 8),
                                     datetime(2026, 11, 9, tzinfo=UTC), draw.tiers, draw.seed, draw.participant_key,
                                     draw.commitment, draw.algorithm, clock())
        await tx.draws.add_winners(earlier.id, [NewWinner(lucky, "a" * 24, "tv", 1, False, WinnerStatus.CONFIRMED,
                                                          None)], clock())
    drawn = await run_at_its_time(store, clock, spring["week"])
    async with store.transaction() as tx:
        assert await tx.draws.winners(drawn.id) == []
        data = await draws.entry_list(tx, drawn.id)
    assert data.endswith(b",tv\n")


async def test_someone_joined_into_another_profile_after_the_freeze_wins_as_that_profile(engine, store, clock,
                                                                                          spring) -> None:
    anna = await participant(engine, "601", [fiscal(61)], store, clock)
    anna_vk = await participant(engine, "602", [fiscal(62)], store, clock, name="Анна Вконтакте")
    week = spring["week"]
    clock.now = datetime(2026, 11, 22, 21, 0, 5, tzinfo=UTC)  # just after the week's close: the list is frozen
    async with store.transaction() as tx:
        frozen = await draws.freeze_list(tx, week.id, clock())
        await merge_persons(tx, anna, anna_vk, "linked", clock())  # the two rows of the list are one person now
    assert frozen.participants == 2
    drawn = await run_at_its_time(store, clock, week)
    async with store.transaction() as tx:
        winners = await tx.draws.winners(drawn.id)
        notices = await tx.messages.entries(template="draw.won")
    assert len(winners) == 2 and {w.person_id for w in winners} == {anna} and [n.person_id for n in notices] == [anna]


async def test_an_unreached_winner_keeps_the_prize_until_staff_decide_and_is_reached_by_writing(engine, store, clock,
                                                                                             spring) -> None:
    for i in range(2):
        await participant(engine, f"70{i}", [fiscal(70 + i)], store, clock)
    drawn = await run_at_its_time(store, clock, spring["week"])
    async with store.transaction() as tx:
        first, _ = await tx.draws.winners(drawn.id)
        await reach.unreached(tx, first, clock())  # what the prize notice's machine does on message.failed
    clock.advance(hours=HOURS + 1)
    await draws.DrawKeeper(store, None, clock, HOURS).pass_once()
    async with store.transaction() as tx:
        assert [w.status for w in await tx.draws.winners(drawn.id)] == [WinnerStatus.UNREACHED, WinnerStatus.RESERVE]
        again = await draws.tell_again(tx, first.id, clock(), HOURS)
        assert again.status is WinnerStatus.NOTIFIED
        assert len(await tx.messages.entries(first.person_id, "draw.won")) == 2  # a fresh notice, routed anew
        await reach.unreached(tx, again, clock())
    clock.advance(hours=5)
    async with store.transaction() as tx:
        account = next(a for a in await tx.people.accounts_of(first.person_id) if a.channel == "telegram")
    winner = Chat.telegram(engine, account.external_id)
    assert await winner.send("/prize") == ["prize.offer"]  # they wrote: reached, their time starts now
    async with store.transaction() as tx:
        reached = await tx.draws.winner(first.id)
    assert reached.status is WinnerStatus.NOTIFIED and reached.deadline == clock() + timedelta(hours=HOURS)
