"""The pluggable tax-service check, over real HTTP against a local receipt-check API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bots.emulators.receipt_check_api import ReceiptCheckEmulator
from bots.receipt_check import HttpReceiptVerifier
from core.engine import Engine
from core.ports import ReceiptStatus
from core.scenarios import catalog
from core.settings import Settings
from core.verification import ReceiptChecker
from tests.chat import Chat
from tests.conftest import services_for

CANONICAL = "t=20260315T184200&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


@pytest.fixture
async def check_api():
    emulator = ReceiptCheckEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def verifying(store, clock, check_api, photo_reader):
    settings = Settings(_env_file=None, receipt_check_url=check_api.url, receipt_check_token="check-token")
    engine = Engine(store, catalog(), services_for(settings, photo_reader), settings, clock=clock)
    verifier = HttpReceiptVerifier(check_api.url, "check-token")
    checker = ReceiptChecker(store, verifier, clock, timedelta(minutes=15), max_attempts=3)
    chat = Chat.telegram(engine, "1001")
    await chat.register()
    assert await chat.send(CANONICAL) == ["receipt.confirm"]
    assert await chat.press("receipt:yes") == ["receipt.accepted_verifying"]
    yield chat, checker
    await verifier.close()


async def _receipt(store):
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.with_status(ReceiptStatus.VERIFYING) + \
            await tx.receipts.with_status(ReceiptStatus.ACCEPTED) + \
            await tx.receipts.with_status(ReceiptStatus.REJECTED) + \
            await tx.receipts.with_status(ReceiptStatus.MODERATION)
        return receipt


async def _balance(chat: Chat) -> tuple[object, object]:
    await chat.send("/balance")
    return chat.param("available"), chat.param("pending")


async def test_a_confirmed_receipt_releases_its_cashback(verifying, check_api, store, clock) -> None:
    chat, checker = verifying
    assert await _balance(chat) == ("0,00", "62,47")
    assert await checker.check_due() == 0  # not due for 15 minutes
    clock.advance(minutes=16)
    check_api.answers[CANONICAL] = "found"
    assert await checker.check_due() == 1
    assert check_api.requests == [CANONICAL]
    assert (await _receipt(store)).status == "accepted"
    assert await _balance(chat) == ("62,47", "0,00")
    async with store.transaction() as tx:
        (notice,) = await tx.messages.entries(template="receipt.verified")
    assert notice.channel is None  # the router picks the channel


async def test_not_yet_keeps_the_receipt_waiting_and_asks_again_later(verifying, check_api, store, clock) -> None:
    chat, checker = verifying
    clock.advance(minutes=16)
    assert await checker.check_due() == 1
    row = await _receipt(store)
    assert (row.status, row.check_attempts) == ("verifying", 1)
    assert await checker.check_due() == 0  # asked again later, not at once
    check_api.failing = True
    clock.advance(minutes=20)
    assert await checker.check_due() == 1
    assert (await _receipt(store)).status == "verifying"
    clock.advance(minutes=40)
    await checker.check_due()
    row = await _receipt(store)
    assert row.status == "moderation"  # three tries: now staff decide
    clock.advance(days=1)
    assert await checker.check_due() == 0
    async with store.transaction() as tx:
        (flag,) = await tx.receipts.flags()
    assert flag.reason == "tax_service_no_answer"
    assert await _balance(chat) == ("0,00", "62,47")


async def test_a_receipt_the_tax_service_does_not_know_is_reversed(verifying, check_api, store, clock) -> None:
    chat, checker = verifying
    check_api.answers[CANONICAL] = "not_found"
    clock.advance(minutes=16)
    await checker.check_due()
    assert (await _receipt(store)).status == "rejected"
    assert await _balance(chat) == ("0,00", "0,00")
    async with store.transaction() as tx:
        (notice,) = await tx.messages.entries(template="receipt.verification_failed")
    assert notice.params["sum"] == "1 249,50"


async def test_a_wrong_token_is_treated_as_unavailable(check_api) -> None:
    verifier = HttpReceiptVerifier(check_api.url, "wrong")
    try:
        assert (await verifier.check(CANONICAL)).outcome.value == "unavailable"
    finally:
        await verifier.close()
