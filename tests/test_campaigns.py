"""Campaigns as data: two at once with their own limits, entry by a pack's link or by choice, product rules
decided on the items the real receipt-check API returns, anti-fraud, and a campaign file's errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bots.emulators.proverkacheka_api import ProverkachekaEmulator
from bots.proverkacheka import ProverkachekaVerifier
from core import campaigns
from core.engine import Engine
from core.ports import ReceiptStatus
from core.scenarios import catalog
from core.settings import Settings
from core.verification import CheckOutcome, ReceiptChecker
from promo.campaign_file import from_toml, to_mapping
from promo.campaigns import Campaign, CampaignError
from promo.products import ProductRules
from tests.chat import Chat
from tests.conftest import services_for

ZONE = ZoneInfo("Europe/Moscow")
MILK = Campaign(code="milk", title="Молоко", zone=ZONE, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30),
                min_sum_kopecks=100_00, receipts_per_day=1, receipts_per_hour=1, cashback_percent=Decimal(10),
                cashback_cap_per_receipt_kopecks=500_00, cashback_cap_per_person_kopecks=3000_00,
                kopecks_per_entry=100_00)
KEFIR = replace(MILK, code="kefir", title="Кефир")
TOKEN = "12345.AbCdEfGhIjKlMnOpQ"


def fiscal(i: int, s: str = "500.00", fn: str = "7380440700123456") -> str:
    return f"t=20261120T120000&s={s}&fn={fn}&i={i}&fp=2964503817&n=1"  # canonical: as the check is asked


async def _open(store, clock, *running: Campaign) -> None:
    async with store.transaction() as tx:
        for campaign in running:
            await campaigns.create(tx, campaign, clock())
            await campaigns.activate(tx, campaign.code, clock())


async def test_processes_starting_at_once_seed_the_first_campaign_once(store, clock,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    await campaigns.seed_at_start(store, MILK, clock())
    async with store.transaction() as tx:
        repository = type(tx.campaigns)

    async def none_yet(self) -> list[Campaign]:  # what a second process saw before the first one committed
        return []

    monkeypatch.setattr(repository, "all", none_yet)
    await campaigns.seed_at_start(store, MILK, clock())  # its insert conflicts: the seed is there, it starts
    monkeypatch.undo()
    async with store.transaction() as tx:
        assert [c.code for c in await tx.campaigns.all()] == ["milk"]


async def test_a_campaign_seeded_without_a_title_gets_the_settings_title_and_keeps_everything_else(store,
                                                                                                   clock) -> None:
    await campaigns.seed_at_start(store, replace(MILK, title=""), clock())  # seeded before CAMPAIGN_TITLE
    await campaigns.seed_at_start(store, replace(MILK, title="Молоко", receipts_per_day=9), clock())
    async with store.transaction() as tx:
        [seeded] = await tx.campaigns.all()
    assert (seeded.name, seeded.receipts_per_day) == ("Молоко", 1)  # the title only: the rules stay as stored
    await campaigns.seed_at_start(store, replace(MILK, title="Другое"), clock())
    async with store.transaction() as tx:
        assert (await tx.campaigns.get("milk")).name == "Молоко"  # a title given is never overwritten


async def test_two_campaigns_at_once_keep_separate_limits(telegram: Chat, store, clock) -> None:
    await _open(store, clock, MILK, KEFIR)
    await telegram.register()
    assert await telegram.send(fiscal(1)) == ["receipt.choose_campaign"]  # kept while the person chooses
    assert await telegram.press("campaign:milk") == ["campaign.entered", "receipt.confirm"]
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]
    assert await telegram.send(fiscal(2)) == ["receipt.refused_daily_limit"]  # milk's one a day is used
    assert await telegram.send("/campaigns") == ["campaign.choose"]
    assert await telegram.press("campaign:kefir") == ["campaign.chosen"]
    assert await telegram.send(fiscal(2)) == ["receipt.confirm"]  # kefir's own limit is untouched
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]
    async with store.transaction() as tx:
        stored = await tx.receipts.of_person(telegram.last[0].person_id)
    assert [r.campaign for r in stored] == ["milk", "kefir"]


async def test_a_packs_link_enters_its_campaign_and_an_unknown_one_changes_nothing(telegram: Chat, store,
                                                                                   clock) -> None:
    await _open(store, clock, MILK, KEFIR)
    assert await telegram.send("/start kefir") == ["campaign.entered_by_link", "registration.consent"]
    await telegram.register()
    assert await telegram.send(fiscal(3)) == ["receipt.confirm"]
    assert telegram.param("campaign_title") == "Кефир"
    assert await telegram.send("/start nosuch") == ["common.welcome_back"]


async def test_the_only_running_campaign_needs_no_choice_and_draws_show_its_commitment(telegram: Chat, store,
                                                                                       clock) -> None:
    await telegram.register()
    assert await telegram.send(fiscal(4)) == ["receipt.confirm"]  # the settings' campaign, seeded
    assert await telegram.send("/draws") == ["draws.summary", "receipt.confirm"]


PRODUCTS = replace(MILK, code="brand", receipts_per_day=5, receipts_per_hour=5,
                   products=ProductRules(("чебаркуль*молоко",), ("пакет",), 2, 1),
                   receipts_per_shop_per_hour=1, people_per_fiscal_drive=1)
ITEMS = [{"name": "*ЧЕБАРКУЛЬ Молоко 3,2%   1л", "quantity": 2.0, "price": 8990, "sum": 17980},
         {"name": "Пакет ЧЕБАРКУЛЬ молоко майка", "quantity": 1.0, "price": 900, "sum": 900},
         {"name": "Хлеб", "quantity": 1.0, "price": 32120, "sum": 32120}]


@pytest.fixture
async def check_api():
    emulator = ProverkachekaEmulator(TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def products(store, clock, check_api, photo_reader):
    settings = Settings(_env_file=None, receipt_check_token=TOKEN)
    engine = Engine(store, catalog(), services_for(settings, photo_reader), settings, clock=clock)
    await _open(store, clock, PRODUCTS)
    verifier = ProverkachekaVerifier(TOKEN, check_api.url)
    yield engine, ReceiptChecker(store, verifier, clock, timedelta(minutes=15), max_attempts=5)
    await verifier.close()


async def _send(engine, account: str, text: str) -> Chat:
    chat = Chat.telegram(engine, account)
    await chat.register(phone=f"+7 912 000-00-{account[-2:]}", email=None)
    assert await chat.send(text) == ["receipt.confirm_products"]
    assert await chat.press("receipt:yes") == ["receipt.accepted_products"]
    return chat


async def test_product_rules_wait_for_the_items_and_reward_the_matching_ones_only(products, check_api, store,
                                                                                  clock) -> None:
    engine, checker = products
    qr = fiscal(5, s="510.00")
    check_api.answer(qr, 2, 1, items=ITEMS)
    chat = await _send(engine, "1101", qr)
    clock.advance(minutes=16)
    await checker.check_due()  # not in the tax service yet
    clock.advance(minutes=16)
    await checker.check_due()
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.of_person(chat.last[0].person_id)
        (notice,) = await tx.messages.entries(template="receipt.verified_products")
        check = await tx.receipts.check_of(receipt.id)
    assert receipt.status is ReceiptStatus.ACCEPTED
    assert (receipt.cashback_kopecks, receipt.entries) == (1798, 2)  # 10% of 179.80 (milk only), one per unit
    assert notice.params["products"] == 2 and check.shop_inn == "7825706086"
    assert check_api.requests[0] == {"token": TOKEN, "qrraw": qr}


async def test_a_receipt_without_the_brands_products_is_refused(products, check_api, store, clock) -> None:
    engine, checker = products
    qr = fiscal(6, s="321.20")
    check_api.answer(qr, 1, items=[ITEMS[2]])
    await _send(engine, "1102", qr)
    clock.advance(minutes=16)
    await checker.check_due()
    async with store.transaction() as tx:
        assert len(await tx.receipts.with_status(ReceiptStatus.REJECTED)) == 1
        assert await tx.messages.entries(template="receipt.refused_no_matching_products")


async def test_a_second_receipt_from_the_same_shop_within_the_hour_goes_to_moderation(products, check_api, store,
                                                                                       clock) -> None:
    engine, checker = products
    first, second = fiscal(7, s="510.00"), fiscal(8, s="510.00", fn="7380440700999999")
    check_api.answer(first, 1, items=ITEMS)
    check_api.answer(second, 1, items=ITEMS)
    await _send(engine, "1103", first)
    await _send(engine, "1104", second)
    clock.advance(minutes=16)
    await checker.check_due()
    async with store.transaction() as tx:
        statuses = sorted(r.status.value for r in [*await tx.receipts.with_status(ReceiptStatus.ACCEPTED),
                                                   *await tx.receipts.with_status(ReceiptStatus.MODERATION)])
        flags = [f.reason for f in await tx.receipts.flags()]
    assert statuses == ["accepted", "moderation"] and flags == ["shop_burst"]


@pytest.mark.parametrize(("setup", "outcome"), [
    (lambda api: setattr(api, "mode", "http_500"), CheckOutcome.UNAVAILABLE),
    (lambda api: setattr(api, "mode", "html"), CheckOutcome.UNAVAILABLE),
    (lambda api: setattr(api, "mode", "http_401"), CheckOutcome.UNAVAILABLE),
    (lambda api: setattr(api, "daily_limit", 0), CheckOutcome.LATER),
    (lambda api: api.answer(fiscal(9), 4), CheckOutcome.LATER),
    (lambda api: api.answer(fiscal(9), 0), CheckOutcome.INVALID),
    (lambda api: api.answer(fiscal(9), 2), CheckOutcome.NOT_YET),
    (lambda api: api.answer(fiscal(9), 5), CheckOutcome.UNAVAILABLE),
    (lambda api: api.answer(fiscal(9), 1, totalSum=1), CheckOutcome.INVALID),
])
async def test_each_answer_of_the_check_api_means_what_it_says(check_api, setup, outcome) -> None:
    setup(check_api)
    verifier = ProverkachekaVerifier(TOKEN, check_api.url)
    try:
        assert (await verifier.check(fiscal(9))).outcome is outcome
    finally:
        await verifier.close()


async def test_a_wrong_token_is_our_fault_never_the_receipts(check_api) -> None:
    verifier = ProverkachekaVerifier("99999.wrongwrongwrongwr", check_api.url)
    try:
        assert (await verifier.check(fiscal(9))).outcome is CheckOutcome.UNAVAILABLE
    finally:
        await verifier.close()


def test_a_campaign_file_reads_back_and_says_which_field_is_wrong() -> None:
    from bots.cli.campaigns import EXAMPLE

    campaign = from_toml(EXAMPLE)
    assert [d.code for d in campaign.draws] == ["week-1", "week-2", "week-3", "week-4", "week-5", "final"]
    assert campaign.draws[0].draw_at.weekday() == 0 and campaign.draws[-1].prizes == (("tv", 1),)
    from promo.campaign_file import from_mapping
    assert from_mapping(to_mapping(campaign), campaign.status) == campaign
    for broken, field in ((EXAMPLE.replace('code = "milk-spring"', 'code = "молоко"'), "code"),
                          (EXAMPLE.replace("ends_on = 2026-03-31", "ends_on = 2026-02-01"), "ends_on"),
                          (EXAMPLE.replace("quantity = 20", "quantity = 2"), "prizes.certificate"),
                          (EXAMPLE.replace('time_zone = "Europe/Moscow"', 'time_zone = "Mars/Base"'), "time_zone"),
                          ("code = [", "file")):
        with pytest.raises(CampaignError) as caught:
            from_toml(broken)
        assert caught.value.reason == field, caught.value
