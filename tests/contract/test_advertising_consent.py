"""The advertising consent as stored (issue 19 §3, issue 22 §5.2): per person and channel, every word kept with its
time and source, the latest holding; apart from the personal-data consent; moved by a merge. And the broadcast
segments' queries: a campaign's participants, a draw's winners, people among given ids."""

from __future__ import annotations

from core.ports import ReceiptStatus
from core.ports.draws import NewWinner, WinnerStatus
from core.support.personal_data import erase_person
from tests.contract.helpers import NOW, TELEGRAM, VK, at, new_person
from tests.contract.test_draws import _draw, participant
from tests.contract.test_receipts import add


async def test_the_latest_word_per_channel_holds_and_stays_apart_from_the_personal_data_consent(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        await tx.people.add_consent(anna, "2026-11", TELEGRAM, NOW)
        await tx.people.record_advertising(anna, TELEGRAM, True, "/news", at(minutes=1))
        await tx.people.record_advertising(anna, VK, True, "/news", at(minutes=2))
        await tx.people.record_advertising(anna, TELEGRAM, False, "button", at(minutes=3))
    async with store.transaction() as tx:
        found = await tx.people.advertising_of([anna, petr])
        assert [c.text_version for c in await tx.people.consents_of(anna)] == ["2026-11"]  # personal data only
    assert found[petr] == {}
    telegram, vk = found[anna][TELEGRAM], found[anna][VK]
    assert (telegram.given, telegram.source, telegram.at) == (False, "button", at(minutes=3))
    assert (vk.given, vk.source, vk.at) == (True, "/news", at(minutes=2))
    async with store.transaction() as tx:
        assert await tx.people.advertising_of([]) == {}


async def test_the_advertising_consent_moves_with_a_merge_and_back(store) -> None:
    survivor, absorbed = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        await tx.people.record_advertising(absorbed, VK, False, "/stop", NOW)
        moved = await tx.people.reassign(absorbed, survivor)
    async with store.transaction() as tx:
        assert (await tx.people.advertising_of([survivor]))[survivor][VK].given is False
        await tx.people.restore(moved, absorbed)
    async with store.transaction() as tx:
        found = await tx.people.advertising_of([survivor, absorbed])
    assert found[survivor] == {} and found[absorbed][VK].source == "/stop"


async def test_segments_list_a_campaigns_participants_a_draws_winners_and_people_among_ids(store) -> None:
    anna, petr, olga = await participant(store), await participant(store), await participant(store)
    guest = await new_person(store)  # never registered: in no segment
    await add(store, anna, 1, campaign="milk")
    await add(store, petr, 2, campaign="milk", status=ReceiptStatus.MODERATION)
    await add(store, olga, 3, campaign="tea")
    await add(store, guest, 4, campaign="milk")
    async with store.transaction() as tx:
        draw = await _draw(tx)
        await tx.draws.add_winners(draw.id, [
            NewWinner(olga, "c" * 24, "car", 1, False, WinnerStatus.NOTIFIED, at(days=3)),
            NewWinner(anna, "a" * 24, "car", 2, True, WinnerStatus.RESERVE, None),
        ], NOW)
    async with store.transaction() as tx:
        assert [r.person_id for r in await tx.broadcasts.participants("milk", 0, 10)] == [anna]
        assert [r.person_id for r in await tx.broadcasts.participants("tea", 0, 10)] == [olga]
        assert await tx.broadcasts.participants("tea", olga, 10) == []
        assert [r.person_id for r in await tx.broadcasts.winners(draw.id, 0, 10)] == [olga]  # not the reserve
        assert [r.person_id for r in await tx.broadcasts.among([guest, petr, anna])] == [anna, petr]
        await erase_person(tx, anna, NOW)
    async with store.transaction() as tx:
        assert await tx.broadcasts.participants("milk", 0, 10) == []  # erased: in no segment
        assert [r.person_id for r in await tx.broadcasts.among([anna, petr])] == [petr]
