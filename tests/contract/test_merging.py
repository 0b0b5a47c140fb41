"""Joining two profiles through every person-owned repository, and undoing it: ``tx.person_owned()``."""

from __future__ import annotations

from dataclasses import replace

from core.events import InboundEvent, OutgoingMessage
from core.ports import Store, UnitOfWork
from core.ports.person_owned import Moved
from promo import ledger
from promo.campaigns import Award
from tests.contract.helpers import NOW, TELEGRAM, VK, at, new_people, read
from tests.contract.test_receipts import ACCEPTED, CAMPAIGN, fiscal

PHONE = "+79123456789"


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
