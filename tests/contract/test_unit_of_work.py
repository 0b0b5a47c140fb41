"""What every unit of work promises: all of it commits together or none of it, and no update is lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from core.errors import ConflictError
from core.events import InboundEvent, OutgoingMessage
from core.identity import LinkCode
from core.ports import NewUpdate, ScenarioState, Store, UnitOfWork
from core.ports.link_codes import LinkAttempt, LinkOutcome
from promo import ledger
from promo.campaigns import Award
from promo.ledger import LedgerAccount
from tests.contract.helpers import NOW, TELEGRAM, Abandoned, abandon, at, conflicts, new_person, read
from tests.contract.test_receipts import ACCEPTED, CAMPAIGN, fiscal

PHONE = "+79123456789"


def test_the_store_says_what_it_is(store: Store) -> None:
    assert store.kind in ("memory", "sqlite", "postgresql")
    assert store.single_process is (store.kind != "postgresql")


async def _touch_everything(tx: UnitOfWork, person_id: int) -> None:
    await tx.people.save(replace(await tx.people.get(person_id), name="Anna", phone=PHONE))
    await tx.people.add_account(person_id, TELEGRAM, "1001", "Anna", NOW)
    await tx.people.add_consent(person_id, "v1", TELEGRAM, NOW)
    await tx.states.save(ScenarioState(person_id, "registration", "ask_name", True), NOW)
    await tx.link_codes.create(LinkCode(0, person_id, "123456", TELEGRAM, "1001", NOW, at(minutes=10)))
    await tx.link_codes.record_attempt(LinkAttempt(0, TELEGRAM, "1001", None, LinkOutcome.WRONG, NOW))
    receipt = await tx.receipts.add(person_id, CAMPAIGN, fiscal(1), "photo", ACCEPTED, Award(100, 1, False), NOW,
                                    None)
    await tx.receipts.flag(receipt.id, person_id, "duplicate", NOW)
    await tx.ledger.post(ledger.accrual(person_id, 100), NOW, receipt_id=receipt.id)
    await tx.ledger.add_payout(person_id, 100, PHONE, NOW)
    tx.messages.enqueue(OutgoingMessage(person_id, "common.menu"), NOW)
    await tx.messages.log_inbound(person_id, InboundEvent.from_text(TELEGRAM, "1001", "hi"), NOW)
    await tx.inbox.add("bot", [NewUpdate("1", "1001", {})], "a", NOW, lease_until=at(minutes=2))
    await tx.inbox.save_cursor("bot", "7")
    await tx.workers.beat("a", NOW)


async def _what_is_kept(tx: UnitOfWork, person_id: int) -> dict[str, object]:
    person = await tx.people.get(person_id)
    return {
        "person": (person.name, person.phone),
        "accounts": len(await tx.people.accounts_of(person_id)),
        "consents": len(await tx.people.consents_of(person_id)),
        "states": len(await tx.states.load(person_id)),
        "codes": await tx.link_codes.find("123456") is not None,
        "attempts": len(await tx.link_codes.attempts()),
        "receipts": len(await tx.receipts.of_person(person_id)),
        "flags": len(await tx.receipts.flags()),
        "balances": await tx.ledger.balances(person_id),
        "payouts": len(await tx.ledger.payouts()),
        "outbox": len(await tx.messages.entries()),
        "log": len(await tx.messages.inbound(person_id)),
        "inbox": await tx.inbox.pending(),
        "cursor": await tx.inbox.cursor("bot"),
    }


async def test_a_unit_that_raises_leaves_nothing_behind_in_any_repository(store: Store) -> None:
    person_id = await new_person(store)

    async def everything(tx: UnitOfWork) -> None:
        await _touch_everything(tx, person_id)

    await abandon(store, everything)
    assert await read(store, lambda tx: _what_is_kept(tx, person_id)) == {
        "person": (None, None), "accounts": 0, "consents": 0, "states": 0, "codes": False, "attempts": 0,
        "receipts": 0, "flags": 0, "balances": {}, "payouts": 0, "outbox": 0, "log": 0, "inbox": 0, "cursor": None}


async def test_a_unit_that_ends_normally_keeps_everything(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await _touch_everything(tx, person_id)
    assert await read(store, lambda tx: _what_is_kept(tx, person_id)) == {
        "person": ("Anna", PHONE), "accounts": 1, "consents": 1, "states": 1, "codes": True, "attempts": 1,
        "receipts": 1, "flags": 1, "balances": {LedgerAccount.PENDING: 100}, "payouts": 1, "outbox": 1, "log": 1,
        "inbox": 1, "cursor": "7"}


async def test_a_conflict_ends_the_whole_unit(store: Store) -> None:
    owner_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.people.add_account(owner_id, TELEGRAM, "1001", "Anna", NOW)

    async def register_twice(tx: UnitOfWork) -> None:
        person = await tx.people.create("ru", NOW)
        await tx.people.save(replace(person, phone=PHONE))
        await tx.people.add_account(person.id, TELEGRAM, "1001", "Anna", NOW)

    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await register_twice(tx)
    await conflicts(store, register_twice)
    assert await read(store, lambda tx: tx.people.find_by_phone(PHONE)) is None


async def test_a_cancelled_unit_leaves_nothing_behind(store: Store) -> None:
    person_id = await new_person(store)

    async def cancelled() -> None:
        async with store.transaction() as tx:
            await tx.people.add_consent(person_id, "v1", TELEGRAM, NOW)
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await cancelled()
    assert await read(store, lambda tx: tx.people.consents_of(person_id)) == []


async def test_racing_units_lose_no_update(store: Store) -> None:
    """Two steps read and write the same state at once: they run one after the other, or one conflicts
    and is retried; either way both count."""
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(person_id, "counter", "counting", True, {"count": 0}), NOW)

    async def increment() -> None:
        for _ in range(5):
            try:
                async with store.transaction() as tx:
                    state = (await tx.states.load(person_id))["counter"]
                    await asyncio.sleep(0.01)  # let the other one read too, where the store allows it
                    state.data["count"] += 1
                    await tx.states.save(state, NOW)
                return
            except ConflictError:
                continue
        raise AssertionError("still conflicting after five tries")

    await asyncio.gather(increment(), increment())
    state = (await read(store, lambda tx: tx.states.load(person_id)))["counter"]
    assert (state.data, state.version) == ({"count": 2}, 3)


async def test_a_unit_abandoned_by_a_plain_exception_reraises_it(store: Store) -> None:
    with pytest.raises(Abandoned):
        async with store.transaction():
            raise Abandoned
