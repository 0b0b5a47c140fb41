"""Joining two profiles through every person-owned repository, and undoing it: ``tx.person_owned()``; each person's
own name, phone and e-mail back on undo (``core.merging.merge_persons``, ``core.support.identity.undo_merge``)."""

from __future__ import annotations

from dataclasses import replace

from core.events import InboundEvent, OutgoingMessage
from core.identity import Person
from core.merging import merge_persons
from core.ports import Store, UnitOfWork
from core.ports.person_owned import Moved
from core.support.identity import undo_merge
from promo import ledger
from promo.campaigns import Award
from tests.contract.helpers import NOW, TELEGRAM, VK, at, new_people, read
from tests.contract.test_receipts import ACCEPTED, CAMPAIGN, fiscal

PHONE = "+79123456789"
OTHER_PHONE = "+79990001122"
DETAILS = ("name", "phone", "phone_verified", "email", "email_verified", "source", "registered_at")


async def _give_rows(tx: UnitOfWork, person_id: int, n: int) -> None:
    await tx.people.add_account(person_id, TELEGRAM if n == 1 else VK, str(n), "", NOW)
    await tx.people.add_consent(person_id, "v1", TELEGRAM, NOW)
    receipt = await tx.receipts.add(person_id, CAMPAIGN, fiscal(n), "photo", ACCEPTED, Award(100, 1, False), NOW,
                                    None)
    await tx.receipts.flag(receipt.id, person_id, "duplicate", NOW)
    await tx.ledger.post(ledger.accrual(person_id, 100 * n), NOW, receipt_id=receipt.id)
    await tx.ledger.add_payout(person_id, n, PHONE, NOW)
    tx.messages.enqueue(OutgoingMessage(person_id, "common.menu"), NOW)
    await tx.messages.log_inbound(person_id, InboundEvent.from_text(TELEGRAM, str(n), "hi"), NOW)


async def _rows_of(tx: UnitOfWork, person_id: int) -> dict[str, object]:
    return {
        "accounts": [a.external_id for a in await tx.people.accounts_of(person_id)],
        "consents": len(await tx.people.consents_of(person_id)),
        "receipts": len(await tx.receipts.of_person(person_id)),
        "flags": sum(f.person_id == person_id for f in await tx.receipts.flags()),
        "balances": await tx.ledger.balances(person_id),
        "payouts": sum(p.person_id == person_id for p in await tx.ledger.payouts()),
        "outbox": len(await tx.messages.entries(person_id)),
        "log": len(await tx.messages.inbound(person_id)),
    }


async def test_a_merge_moves_every_owned_row_and_its_undo_moves_exactly_them_back(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await _give_rows(tx, survivor_id, 1)
        await _give_rows(tx, absorbed_id, 2)
        await tx.people.save(replace(await tx.people.get(absorbed_id), phone=PHONE, phone_verified=True))
    before = {pid: await read(store, lambda tx, pid=pid: _rows_of(tx, pid)) for pid in (survivor_id, absorbed_id)}

    async with store.transaction() as tx:
        moved: Moved = {}
        for repository in tx.person_owned():
            part = await repository.reassign(absorbed_id, survivor_id)
            assert not set(part) & set(moved), "two repositories name the same table"
            moved |= part
        await tx.people.absorb(survivor_id, absorbed_id)
        merge = await tx.people.record_merge(survivor_id, absorbed_id, "same phone", moved, at(seconds=1))
    assert set(moved) == {"channel_accounts", "consents", "receipts", "receipt_flags", "ledger_entries", "payouts",
                          "outbox", "message_log"}
    assert await read(store, lambda tx: tx.people.merges(absorbed_id)) == [merge]
    assert merge.moved == moved
    merged = await read(store, lambda tx: _rows_of(tx, survivor_id))
    assert merged["accounts"] == ["1", "2"]
    assert (merged["consents"], merged["receipts"], merged["flags"], merged["payouts"], merged["outbox"],
            merged["log"]) == (2, 2, 2, 2, 2, 2)
    assert merged["balances"] == {ledger.LedgerAccount.PENDING: 300}
    assert await read(store, lambda tx: _rows_of(tx, absorbed_id)) == {
        "accounts": [], "consents": 0, "receipts": 0, "flags": 0, "balances": {}, "payouts": 0, "outbox": 0,
        "log": 0}
    survivor = await read(store, lambda tx: tx.people.get(survivor_id))
    assert (survivor.phone, survivor.phone_verified) == (PHONE, True)

    async with store.transaction() as tx:
        [recorded] = await tx.people.merges(absorbed_id)
        restored = sum([await repository.restore(recorded.moved, absorbed_id) for repository in tx.person_owned()])
    assert restored == sum(len(ids) for ids in moved.values())
    after = {pid: await read(store, lambda tx, pid=pid: _rows_of(tx, pid)) for pid in (survivor_id, absorbed_id)}
    assert after == before


def _details(person: Person) -> dict[str, object]:
    return {name: getattr(person, name) for name in DETAILS}


async def _anna_and_a_fresh_profile(store: Store, phone_verified: bool = True) -> tuple[int, int, dict[str, object]]:
    """A fresh profile (a browser that signed in, say) and Anna's registered one, which it is to absorb."""
    survivor_id, absorbed_id = await new_people(store, 2)
    anna = {"name": "Анна Петрова", "phone": PHONE, "phone_verified": phone_verified, "email": "anna@example.ru",
            "email_verified": True, "source": "qr-shop-12", "registered_at": at(minutes=-5)}
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(absorbed_id), **anna))
        await tx.people.add_account(absorbed_id, TELEGRAM, "2", "Anna", NOW)
    return survivor_id, absorbed_id, anna


async def _merge(store: Store, survivor_id: int, absorbed_id: int) -> int:
    async with store.transaction() as tx:
        return (await merge_persons(tx, survivor_id, absorbed_id, "link code approved by its owner", NOW)).id


async def _undo(store: Store, person_id: int, merge_id: int) -> tuple[Person, Person]:
    async with store.transaction() as tx:
        merge = await undo_merge(tx, person_id, merge_id, None, at(minutes=5))
        return await tx.people.get(merge.merge.survivor_id), await tx.people.get(merge.merge.absorbed_id)


async def test_a_merge_keeps_both_peoples_details_and_its_undo_gives_each_their_own_back(store: Store) -> None:
    survivor_id, absorbed_id, anna = await _anna_and_a_fresh_profile(store)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(survivor_id), name="Боря"))
    merge_id = await _merge(store, survivor_id, absorbed_id)
    survivor = await read(store, lambda tx: tx.people.get(survivor_id))
    assert _details(survivor) == {**anna, "name": "Боря"}  # it had a name of its own; the rest it took

    [merge] = await read(store, lambda tx: tx.people.merges(survivor_id))
    assert merge.details is not None
    assert merge.details.absorbed.phone == PHONE and merge.details.absorbed.registered_at == at(minutes=-5)
    assert (merge.details.survivor.name, merge.details.survivor.phone) == ("Боря", None)
    assert (merge.details.survivor_after.email, merge.details.survivor_after.email_verified) == (anna["email"], True)

    survivor, absorbed = await _undo(store, survivor_id, merge_id)
    assert _details(absorbed) == anna and absorbed.merged_into_id is None
    assert _details(survivor) == {"name": "Боря", "phone": None, "phone_verified": False, "email": None,
                                  "email_verified": False, "source": None, "registered_at": None}
    assert await read(store, lambda tx: tx.people.find_by_phone(PHONE)) == absorbed
    assert [a.external_id for a in await read(store, lambda tx: tx.people.accounts_of(absorbed_id))] == ["2"]


async def test_what_the_survivor_changed_after_the_merge_stays_with_it_on_undo(store: Store) -> None:
    survivor_id, absorbed_id, anna = await _anna_and_a_fresh_profile(store)
    merge_id = await _merge(store, survivor_id, absorbed_id)
    async with store.transaction() as tx:  # a number and an address of its own, given after the merge
        await tx.people.save(replace(await tx.people.get(survivor_id), phone=OTHER_PHONE, phone_verified=False,
                                     email="boris@example.ru", email_verified=False))
    survivor, absorbed = await _undo(store, survivor_id, merge_id)
    assert _details(absorbed) == anna
    assert _details(survivor) == {"name": None, "phone": OTHER_PHONE, "phone_verified": False,
                                  "email": "boris@example.ru", "email_verified": False, "source": None,
                                  "registered_at": None}


async def test_a_number_the_survivor_confirmed_after_the_merge_stays_with_it(store: Store) -> None:
    survivor_id, absorbed_id, anna = await _anna_and_a_fresh_profile(store, phone_verified=False)
    merge_id = await _merge(store, survivor_id, absorbed_id)
    async with store.transaction() as tx:  # proved by an SMS code: whoever holds the number now is the survivor
        await tx.people.save(replace(await tx.people.get(survivor_id), phone_verified=True))
    survivor, absorbed = await _undo(store, survivor_id, merge_id)
    assert (survivor.phone, survivor.phone_verified, survivor.email) == (PHONE, True, None)
    assert _details(absorbed) == {**anna, "phone": None, "phone_verified": False}  # the unique number is taken


async def test_a_merge_recorded_without_details_is_undone_as_before(store: Store) -> None:
    survivor_id, absorbed_id, _ = await _anna_and_a_fresh_profile(store)
    async with store.transaction() as tx:  # as merges were recorded before 0010
        moved = await tx.people.reassign(absorbed_id, survivor_id)
        await tx.people.absorb(survivor_id, absorbed_id)
        merge = await tx.people.record_merge(survivor_id, absorbed_id, "same phone", moved, NOW)
    assert merge.details is None
    assert [m.details for m in await read(store, lambda tx: tx.people.merges(survivor_id))] == [None]
    survivor, absorbed = await _undo(store, survivor_id, merge.id)
    assert (survivor.phone, survivor.email) == (PHONE, "anna@example.ru") and absorbed.phone is None
    assert absorbed.merged_into_id is None
    assert [a.external_id for a in await read(store, lambda tx: tx.people.accounts_of(absorbed_id))] == ["2"]
