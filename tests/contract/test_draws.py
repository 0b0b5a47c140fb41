"""Draws and winners as stored: secrets and results, the frozen list byte for byte (once), who each row is, winners
in order; entries counted only before a list's close."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from core.ports import ReceiptStatus
from core.ports.draws import Draw, DrawStatus, NewWinner, WinnerStatus
from core.support.personal_data import erase_person
from promo.campaigns import Award
from promo.draws import TierDraw
from promo.receipts import parse
from tests.contract.helpers import NOW, at, conflicts, new_person, read

TIERS = (TierDraw("car", 1, 2), TierDraw("cert", 3, 0))


@dataclass(frozen=True)
class Subject:  # what an erasure names (core.ports.personal_data.ErasureSubject): the person
    person_id: int


async def participant(store) -> int:
    """A registered person (consent given): only they enter draws."""
    person_id = await new_person(store)
    async with store.transaction() as tx:
        person = await tx.people.get(person_id)
        person.registered_at = NOW
        await tx.people.save(person)
    return person_id


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
    anna, petr = await participant(store), await participant(store)
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
    assert await read(store, lambda tx: tx.receipts.entries_by_person("milk", start, end, counted_before=end)
                      ) == {anna: 5, petr: 4}
    assert await read(store, lambda tx: tx.receipts.entries_by_person("milk", at(days=-1), end,
                                                                      counted_before=end)) == {}
    # counted (accepted) only at or after the close: not in that list
    assert await read(store, lambda tx: tx.receipts.entries_by_person("milk", start, end, counted_before=NOW)) == {}


async def test_a_list_takes_what_was_counted_before_its_close_and_late_receipts_where_told(store) -> None:
    """Purchases of March 3; the list of March 1–7 closes at ``close``. A receipt decided after it is left out,
    whatever its purchase date; one that missed an earlier list comes to the next one only when asked (``late``)."""
    anna, petr, olga = await participant(store), await participant(store), await participant(store)
    zone = NOW.tzinfo
    purchase = parse(FISCAL.format(s="500.00", i=1), zone).issued_at
    week_start, close = purchase - timedelta(days=2), purchase + timedelta(days=4)
    async with store.transaction() as tx:
        early = await tx.receipts.add(anna, "milk", parse(FISCAL.format(s="500.00", i=1), zone), "typed",
                                      ReceiptStatus.ACCEPTED, Award(0, 3, False), close - timedelta(days=1), None)
        moderated = await tx.receipts.add(petr, "milk", parse(FISCAL.format(s="500.00", i=2), zone), "typed",
                                          ReceiptStatus.MODERATION, Award(0, 4, False), close - timedelta(days=1),
                                          None)
        await tx.receipts.set_status(moderated.id, ReceiptStatus.ACCEPTED, None, 0, at=close + timedelta(minutes=1))
        before = await tx.receipts.add(olga, "milk", parse(FISCAL.format(s="500.00", i=3), zone), "typed",
                                       ReceiptStatus.MODERATION, Award(0, 2, False), close - timedelta(hours=2),
                                       None)
        await tx.receipts.set_status(before.id, ReceiptStatus.ACCEPTED, None, 0, at=close - timedelta(hours=1))
    assert early.issued_at == purchase
    this_week = await read(store, lambda tx: tx.receipts.entries_by_person("milk", week_start, close,
                                                                           counted_before=close))
    assert this_week == {anna: 3, olga: 2}  # petr's was approved a minute after the close
    next_start, next_close = close, close + timedelta(days=7)
    plain = await read(store, lambda tx: tx.receipts.entries_by_person("milk", next_start, next_close,
                                                                       counted_before=next_close))
    carried = await read(store, lambda tx: tx.receipts.entries_by_person(
        "milk", next_start, next_close, counted_before=next_close, late=[(week_start, close)]))
    assert plain == {} and carried == {petr: 4}  # counted during the next week's days, it goes to that draw


async def test_flags_are_taken_as_they_stood_at_a_moment(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    zone = NOW.tzinfo
    async with store.transaction() as tx:
        first = await tx.receipts.add(anna, "milk", parse(FISCAL.format(s="500.00", i=1), zone), "typed",
                                      ReceiptStatus.ACCEPTED, Award(0, 3, False), NOW, None)
        second = await tx.receipts.add(petr, "milk", parse(FISCAL.format(s="500.00", i=2), zone), "typed",
                                       ReceiptStatus.ACCEPTED, Award(0, 3, False), NOW, None)
        await tx.receipts.flag(first.id, anna, "shop_burst", at(hours=-1))
        await tx.receipts.flag(second.id, petr, "shop_burst", at(hours=1))
    reasons = frozenset({"shop_burst"})
    assert await read(store, lambda tx: tx.receipts.flagged_people(reasons, as_of=NOW)) == {anna}
    assert await read(store, lambda tx: tx.receipts.flagged_people(reasons)) == {anna, petr}


async def test_a_list_is_kept_once_with_who_each_row_is_and_a_sealed_seed_stays_as_given(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        draw: Draw = await tx.draws.add("milk", "week-9", date(2026, 3, 1), date(2026, 3, 7), at(days=1), TIERS, "",
                                        "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", NOW, sealed_seed="v1:AAAA")
        await tx.draws.keep_list(draw.id, b"participant,entries,excluded_tiers\n", [petr, anna])
    assert (draw.seed, draw.sealed_seed, draw.frozen) == ("", "v1:AAAA", False)
    assert await read(store, lambda tx: tx.draws.entrants(draw.id)) == [petr, anna]
    await conflicts(store, lambda tx: tx.draws.keep_list(draw.id, b"participant,entries,excluded_tiers\n", [anna]))
    frozen = replace(draw, frozen_at=NOW, entries_hash="12" * 32, participants=2, entries=5)
    async with store.transaction() as tx:
        await tx.draws.save(frozen)
        assert [d.id for d in await tx.draws.scheduled()] == [draw.id]
    revealed = replace(frozen, status=DrawStatus.DRAWN, seed="ab" * 32, drawn_at=at(days=1))
    async with store.transaction() as tx:
        await tx.draws.save(revealed)
    assert await read(store, lambda tx: tx.draws.get(draw.id)) == revealed
    assert await read(store, lambda tx: tx.draws.scheduled()) == []


async def test_someone_who_erased_their_data_enters_no_list(store) -> None:
    anna, petr = await participant(store), await participant(store)
    async with store.transaction() as tx:
        for i, person in enumerate((anna, petr)):
            await tx.receipts.add(person, "milk", parse(FISCAL.format(s="500.00", i=i + 1), NOW.tzinfo), "typed",
                                  ReceiptStatus.ACCEPTED, Award(0, 3, False), NOW, None)
    async with store.transaction() as tx:
        await erase_person(tx, petr, at(minutes=1))  # consent withdrawn
    assert await read(store, lambda tx: tx.receipts.entries_by_person(
        "milk", at(days=-300), at(days=1), counted_before=at(days=1))) == {anna: 3}


async def test_exclusions_are_per_campaign_kept_in_order_and_move_with_a_merge(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        first = await tx.draws.exclude("milk", anna, "sent_by_another_person", "чужой чек", 7, at(minutes=1))
        await tx.draws.exclude("kefir", petr, "rules_broken", "", None, at(minutes=2))
    assert (first.campaign, first.person_id, first.reason, first.note, first.staff_id) == (
        "milk", anna, "sent_by_another_person", "чужой чек", 7)
    assert await read(store, lambda tx: tx.draws.exclusions("milk")) == [first]
    assert await read(store, lambda tx: tx.draws.exclusions("milk", before=at(minutes=1))) == []
    async with store.transaction() as tx:
        moved = await tx.draws.reassign(anna, petr)
    assert [e.person_id for e in await read(store, lambda tx: tx.draws.exclusions("milk"))] == [petr]
    async with store.transaction() as tx:
        await tx.draws.restore(moved, anna)
    assert [e.person_id for e in await read(store, lambda tx: tx.draws.exclusions("milk"))] == [anna]


async def test_a_scheduled_draw_is_moved_or_cancelled_only_while_its_list_is_open(store) -> None:
    async with store.transaction() as tx:
        moved, cancelled, frozen = await _draw(tx, "a"), await _draw(tx, "b"), await _draw(tx, "c")
    async with store.transaction() as tx:
        change = await tx.draws.reschedule(moved.id, at(days=3), "призы задерживаются", 7, at(minutes=1))
        await tx.draws.reschedule(cancelled.id, None, "акция сокращена", None, at(minutes=2))
    assert (change.draw_at_before, change.draw_at_after, change.reason, change.staff_id, change.changed_at) == (
        at(days=1), at(days=3), "призы задерживаются", 7, at(minutes=1)) and not change.cancelled
    assert (await read(store, lambda tx: tx.draws.get(moved.id))).draw_at == at(days=3)
    assert (await read(store, lambda tx: tx.draws.get(cancelled.id))).status is DrawStatus.CANCELLED
    (gone,) = await read(store, lambda tx: tx.draws.changes(cancelled.id))
    assert gone.cancelled and gone.draw_at_before == at(days=1) and gone.reason == "акция сокращена"
    assert [d.id for d in await read(store, lambda tx: tx.draws.scheduled())] == [frozen.id, moved.id]  # by time
    await conflicts(store, lambda tx: tx.draws.reschedule(cancelled.id, at(days=2), "снова", None, NOW))

    async with store.transaction() as tx:  # frozen: its list kept and its hash published
        await tx.draws.keep_list(frozen.id, b"participant,entries,excluded_tiers\n")
        await tx.draws.save(replace(frozen, frozen_at=at(minutes=3), entries_hash="12" * 32))
    await conflicts(store, lambda tx: tx.draws.reschedule(frozen.id, at(days=5), "поздно", None, at(minutes=4)))
    await conflicts(store, lambda tx: tx.draws.reschedule(frozen.id, None, "поздно", None, at(minutes=4)))
    assert (await read(store, lambda tx: tx.draws.get(frozen.id))).draw_at == at(days=1)
    assert await read(store, lambda tx: tx.draws.changes(frozen.id)) == []
    assert [c.draw_at_after for c in await read(store, lambda tx: tx.draws.changes(moved.id))] == [at(days=3)]
