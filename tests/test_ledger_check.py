"""The check the crash and fault tests end with (``tests.ledger_check``): it passes a true ledger, and it fails on each
way a crash or an outage could make the ledger and the receipts drift apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core import moderation
from core.engine import Engine
from core.photos import PhotoReader
from core.scenarios import catalog
from core.settings import Settings
from storage.database import create_engine
from storage.sql import SqlStore
from storage.tables.ledger import ledger_entries, ledger_transactions
from storage.tables.receipts import receipts
from tests.chat import Chat
from tests.conftest import Clock, services_for
from tests.ledger_check import CASHBACK, LedgerSummary, check_ledger, receipt

ANNA, BORIS = ("telegram", "1001"), ("telegram", "1002")
SENT = {ANNA: {11, 12}, BORIS: {21}}


@pytest.fixture
async def db(database_url: str, settings: Settings, clock: Clock,
             photo_reader: PhotoReader) -> AsyncIterator[AsyncEngine]:
    """Anna's two receipts (one approved by staff), Boris's one (rejected), through the engine."""
    clock.now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    database = create_engine(database_url)
    store = SqlStore(database)
    engine = Engine(store, catalog(), services_for(settings, photo_reader), settings, clock=clock)
    anna, boris = Chat.telegram(engine, ANNA[1]), Chat.telegram(engine, BORIS[1])
    await anna.register()
    await boris.register("Борис Орлов", "+7 913 222-33-44", None)
    for chat, numbers in ((anna, SENT[ANNA]), (boris, SENT[BORIS])):
        for number in sorted(numbers):
            assert await chat.send(receipt(number)) == ["receipt.confirm"]
            assert await chat.press("receipt:yes") == ["receipt.accepted_moderation"]
    watcher = create_engine(database_url)
    eleven, twenty_one = await receipt_id(watcher, 11), await receipt_id(watcher, 21)
    async with store.transaction() as tx:
        await moderation.approve(tx, eleven, clock())
        await moderation.reject(tx, twenty_one, "не тот магазин", clock())
    await store.close()
    await database.dispose()
    yield watcher
    await watcher.dispose()


async def receipt_id(db: AsyncEngine, number: int) -> int:
    async with db.connect() as connection:
        return int((await connection.execute(select(receipts.c.id).where(receipts.c.document_number == number)))
                   .scalar_one())


async def test_a_true_ledger_passes(db: AsyncEngine, database_url: str) -> None:
    assert await check_ledger(database_url, SENT) == LedgerSummary(people=2, receipts=3, accrued_kopecks=2 * CASHBACK)


async def test_a_receipt_accrued_twice_fails(db: AsyncEngine, database_url: str) -> None:
    twelve = await receipt_id(db, 12)
    async with db.begin() as connection:
        accrual = (await connection.execute(select(ledger_transactions).where(
            ledger_transactions.c.receipt_id == twelve, ledger_transactions.c.kind == "accrual"))).one()
        again = (await connection.execute(insert(ledger_transactions).values(
            kind="accrual", receipt_id=twelve, created_at=accrual.created_at).returning(ledger_transactions.c.id)))
        again_id = again.scalar_one()
        postings = (await connection.execute(select(ledger_entries).where(
            ledger_entries.c.transaction_id == accrual.id))).all()
        await connection.execute(insert(ledger_entries), [
            {"transaction_id": again_id, "account": p.account, "person_id": p.person_id,
             "amount_kopecks": p.amount_kopecks} for p in postings])
    with pytest.raises(AssertionError, match="2 accrual movements"):
        await check_ledger(database_url, SENT)


async def test_a_receipt_without_its_accrual_fails(db: AsyncEngine, database_url: str) -> None:
    twelve = await receipt_id(db, 12)
    async with db.begin() as connection:
        accrual = select(ledger_transactions.c.id).where(ledger_transactions.c.receipt_id == twelve).scalar_subquery()
        await connection.execute(delete(ledger_entries).where(ledger_entries.c.transaction_id == accrual))
        await connection.execute(delete(ledger_transactions).where(ledger_transactions.c.receipt_id == twelve))
    with pytest.raises(AssertionError, match=r"person \d+: pending 0, earned 6250"):
        await check_ledger(database_url, SENT)


async def test_a_rejected_receipt_still_counted_fails(db: AsyncEngine, database_url: str) -> None:
    twenty_one = await receipt_id(db, 21)
    async with db.begin() as connection:
        reversal = select(ledger_transactions.c.id).where(ledger_transactions.c.receipt_id == twenty_one,
                                                          ledger_transactions.c.kind == "reversal").scalar_subquery()
        await connection.execute(delete(ledger_entries).where(ledger_entries.c.transaction_id == reversal))
    with pytest.raises(AssertionError, match="does not balance"):
        await check_ledger(database_url, SENT)


async def test_cashback_the_ledger_does_not_hold_fails(db: AsyncEngine, database_url: str) -> None:
    async with db.begin() as connection:
        await connection.execute(update(receipts).where(receipts.c.document_number == 11).values(
            cashback_kopecks=CASHBACK + 1))
    with pytest.raises(AssertionError, match="expected"):
        await check_ledger(database_url, SENT)


async def test_a_confirmed_receipt_that_was_not_stored_fails(db: AsyncEngine, database_url: str) -> None:
    with pytest.raises(AssertionError, match="confirmed receipts"):
        await check_ledger(database_url, {**SENT, BORIS: {21, 22}})
