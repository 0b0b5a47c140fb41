"""Draws and winners as stored: secrets and results, the frozen list byte for byte, winners in order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from core.ports import ReceiptStatus
from core.ports.draws import DrawStatus, NewWinner, WinnerStatus
from promo.campaigns import Award
from promo.draws import TierDraw
from promo.receipts import parse
from tests.contract.helpers import NOW, at, conflicts, new_person, read

TIERS = (TierDraw("car", 1, 2), TierDraw("cert", 3, 0))


@dataclass(frozen=True)
class Subject:  # what an erasure names (core.ports.personal_data.ErasureSubject): the person
    person_id: int


async def _draw(tx, code: str = "week-1", campaign: str = "milk"):
    return await tx.draws.add(campaign, code, date(2026, 3, 1), date(2026, 3, 7), at(days=1), TIERS, "ab" * 32,
                              "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", NOW)


async def test_a_draw_keeps_its_secrets_and_result(store) -> None:
    async with store.transaction() as tx:
        draw = await _draw(tx)
    assert (draw.status, draw.tiers, draw.seed, draw.commitment) == (DrawStatus.SCHEDULED, TIERS, "ab" * 32, "ef" * 32)
    drawn = replace(draw, status=DrawStatus.DRAWN, beacon_chain="52db", beacon_round=657413,
                    beacon_randomness="fc" * 32, beacon_signature="b7" * 48, entries_hash="12" * 32,
                    participants=3, entries=17, excluded=1, drawn_at=at(days=1, minutes=1))
    async with store.transaction() as tx:
        await tx.draws.save(drawn)
        await tx.draws.keep_list(draw.id, b"participant,entries,excluded_tiers\n")
    assert await read(store, lambda tx: tx.draws.get(draw.id)) == drawn
    assert await read(store, lambda tx: tx.draws.entry_list(draw.id)) == b"participant,entries,excluded_tiers\n"


async def test_a_campaign_has_one_draw_per_code_and_due_ones_come_in_time_order(store) -> None:
    async with store.transaction() as tx:
        first = await _draw(tx)
        await _draw(tx, "week-1", campaign="kefir")
    await conflicts(store, lambda tx: _draw(tx))
    assert [d.id for d in await read(store, lambda tx: tx.draws.due(at(hours=23)))] == []
    assert [d.id for d in await read(store, lambda tx: tx.draws.due(at(days=1)))] == [first.id, first.id + 1]
    assert [d.code for d in await read(store, lambda tx: tx.draws.of_campaign("milk"))] == ["week-1"]


async def test_winners_come_in_drawing_order_and_overdue_ones_are_found(store) -> None:
    anna, petr, olga = await new_person(store), await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        draw = await _draw(tx)
        await tx.draws.add_winners(draw.id, [
            NewWinner(olga, "c" * 24, "cert", 1, False, WinnerStatus.NOTIFIED, at(days=3)),
            NewWinner(anna, "a" * 24, "car", 1, False, WinnerStatus.NOTIFIED, at(days=2)),
            NewWinner(petr, "b" * 24, "car", 2, True, WinnerStatus.RESERVE, None),
        ], NOW)
    winners = await read(store, lambda tx: tx.draws.winners(draw.id))
    assert [(w.tier, w.position, w.reserve) for w in winners] == [("car", 1, False), ("car", 2, True),
                                                                   ("cert", 1, False)]
    overdue = await read(store, lambda tx: tx.draws.overdue(at(days=2), 10))
    assert [w.person_id for w in overdue] == [anna]
    confirmed = replace(winners[0], status=WinnerStatus.CONFIRMED, details={"full_name": "Анна Петрова"},
                        updated_at=at(hours=1))
    async with store.transaction() as tx:
        await tx.draws.save_winner(confirmed)
        assert await tx.draws.winner(confirmed.id) == confirmed
        assert [w.id for w in await tx.draws.campaign_winners("milk")] == [w.id for w in winners]
        assert await tx.draws.campaign_winners("kefir") == []
        assert await tx.draws.erase_personal(Subject(anna), at(hours=2)) == 1
        assert (await tx.draws.winner(confirmed.id)).details == {}


async def test_wins_move_with_a_merge_and_back(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        draw = await _draw(tx)
        await tx.draws.add_winners(draw.id, [NewWinner(petr, "b" * 24, "car", 1, False, WinnerStatus.NOTIFIED,
                                                       at(days=2))], NOW)
        moved = await tx.draws.reassign(petr, anna)
        assert [w.person_id for w in await tx.draws.wins_of(anna)] == [anna]
        assert await tx.draws.restore(moved, petr) == 1
        assert await tx.draws.wins_of(anna) == []


FISCAL = "t=20260303T1842&s={s}&fn=7380440700123456&i={i}&fp=2964503817&n=1"


async def test_entries_per_person_count_accepted_receipts_of_the_period(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    zone = NOW.tzinfo
    async with store.transaction() as tx:
        for i, (person, status, entries) in enumerate([(anna, ReceiptStatus.ACCEPTED, 3),
                                                       (anna, ReceiptStatus.ACCEPTED, 2),
                                                       (anna, ReceiptStatus.MODERATION, 5),
                                                       (petr, ReceiptStatus.ACCEPTED, 4)]):
            await tx.receipts.add(person, "milk", parse(FISCAL.format(s="500.00", i=i + 1), zone), "typed",
                                  status, Award(0, entries, False), NOW, None)
        await tx.receipts.add(petr, "kefir", parse(FISCAL.format(s="500.00", i=9), zone), "typed",
                              ReceiptStatus.ACCEPTED, Award(0, 7, False), NOW, None)
    start, end = at(days=-300), at(days=1)
    assert await read(store, lambda tx: tx.receipts.entries_by_person("milk", start, end)) == {anna: 5, petr: 4}
    assert await read(store, lambda tx: tx.receipts.entries_by_person("milk", at(days=-1), end)) == {}
