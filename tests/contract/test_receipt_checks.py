"""What the receipt check returned, kept per receipt; the counts anti-fraud rules ask for; awards set later."""

from __future__ import annotations

from datetime import timedelta

from core.ports import ReceiptStatus
from promo.campaigns import Award
from promo.products import ReceiptItem
from promo.receipts import parse
from tests.contract.helpers import NOW, new_person, read

ITEMS = [ReceiptItem("*ЧЕБАРКУЛЬ Молоко 3,2%  1л", 2.0, 8990, 17980), ReceiptItem("Пакет", 1.0, 900, 900)]


def fiscal(i: int, fn: str = "7380440700123456", t: str = "20261123T1000"):
    return parse(f"t={t}&s=188.80&fn={fn}&i={i}&fp=2964503817&n=1", NOW.tzinfo)


async def _add(tx, person: int, i: int, **kw):
    status = kw.pop("status", ReceiptStatus.VERIFYING)
    return await tx.receipts.add(person, kw.pop("campaign", "milk"), fiscal(i, **kw), "typed", status,
                                 Award(0, 0, False, awaits_items=True), NOW, None)


async def test_a_check_is_kept_with_its_items_and_answer(store) -> None:
    anna = await new_person(store)
    async with store.transaction() as tx:
        receipt = await _add(tx, anna, 1)
        await tx.receipts.record_check(receipt.id, "7825706086", ITEMS, {"code": 1, "data": {"json": {}}}, NOW)
        await tx.receipts.set_award(receipt.id, 1258, 2)
    check = await read(store, lambda tx: tx.receipts.check_of(receipt.id))
    assert (check.shop_inn, check.items, check.raw["code"]) == ("7825706086", ITEMS, 1)
    stored = await read(store, lambda tx: tx.receipts.get(receipt.id))
    assert (stored.cashback_kopecks, stored.entries, stored.fn) == (1258, 2, 7380440700123456)


async def test_receipts_from_one_shop_are_counted_within_a_window(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        ids = []
        for i, (person, t) in enumerate([(anna, "20261123T1000"), (petr, "20261123T1030"), (petr, "20261123T1200")]):
            receipt = await _add(tx, person, i + 1, t=t)
            await tx.receipts.record_check(receipt.id, "7825706086", [], {}, NOW)
            ids.append(receipt.id)
        other = await _add(tx, anna, 9, t="20261123T1010")
        await tx.receipts.record_check(other.id, "500100732259", [], {}, NOW)
    moment = fiscal(2, t="20261123T1030").issued_at
    count = await read(store, lambda tx: tx.receipts.from_shop("milk", "7825706086", moment - timedelta(hours=1),
                                                                moment, ids[1]))
    assert count == 1
    assert await read(store, lambda tx: tx.receipts.from_shop("kefir", "7825706086", moment - timedelta(hours=1),
                                                               moment, ids[1])) == 0


async def test_people_on_one_fiscal_drive_and_flagged_people(store) -> None:
    anna, petr, olga = await new_person(store), await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        first = await _add(tx, anna, 1)
        await _add(tx, anna, 2)
        await _add(tx, petr, 3)
        await _add(tx, olga, 4, status=ReceiptStatus.REJECTED)
        await _add(tx, olga, 5, fn="7380440700999999")
        await tx.receipts.flag(first.id, petr, "shop_burst", NOW)
        await tx.receipts.flag(first.id, olga, "tax_service_no_answer", NOW)
    assert await read(store, lambda tx: tx.receipts.people_on_drive("milk", 7380440700123456)) == 2
    assert await read(store, lambda tx: tx.receipts.flagged_people(frozenset({"shop_burst"}))) == {petr}
