from __future__ import annotations

from sqlalchemy import func, select

from core.engine import Engine
from core.events import Channel, EventKind, InboundEvent
from storage.models import LedgerEntryRow, ReceiptFlagRow, ReceiptRow
from tests.chat import Chat
from tests.images import receipt_photo

FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


def fiscal(i: int = 48213, s: str = "1249.50", t: str = "20260315T1842", n: int = 1) -> str:
    return f"t={t}&s={s}&fn=7380440700123456&i={i}&fp=2964503817&n={n}"


async def _upload(chat: Chat, text: str) -> list[str]:
    shown = await chat.send(text)
    assert shown == ["receipt.confirm"], shown
    return await chat.press("receipt:yes")


async def test_a_typed_string_is_confirmed_then_accepted(telegram: Chat, store) -> None:
    await telegram.register()
    assert await telegram.send(FISCAL) == ["receipt.confirm"]
    assert (telegram.param("sum"), telegram.param("fd"), telegram.param("when")) == ("1 249,50", "48213",
                                                                                      "15.03.2026 18:42")
    assert await telegram.press("receipt:yes") == ["receipt.accepted"]
    assert telegram.param("cashback") == "62,47" and telegram.param("entries") == 12
    assert telegram.param("available") == "62,47"
    async with store.transaction() as tx:
        row = (await tx.session.scalars(select(ReceiptRow))).one()
        total = await tx.session.scalar(select(func.sum(LedgerEntryRow.amount_kopecks)))
    assert (row.sum_kopecks, row.cashback_kopecks, row.source, row.status) == (124950, 6247, "typed", "accepted")
    assert total == 0  # double entry: every movement balances


async def test_a_photo_goes_through_the_qr_pipeline(telegram: Chat, store) -> None:
    await telegram.register()
    assert await telegram.send_photo(receipt_photo(FISCAL)) == ["receipt.confirm"]
    assert await telegram.press("receipt:yes") == ["receipt.accepted"]
    async with store.transaction() as tx:
        assert (await tx.session.scalars(select(ReceiptRow))).one().source == "photo"


async def test_receipt_command_then_photo(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send("/receipt") == ["receipt.ask"]
    assert await telegram.send_photo(receipt_photo(FISCAL)) == ["receipt.confirm"]


async def test_unreadable_photos_say_why_and_offer_the_manual_chain(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send_photo(receipt_photo()) == ["receipt.photo_no_qr", "receipt.ask"]
    assert await telegram.send_photo(b"not a picture") == ["receipt.photo_not_an_image", "receipt.ask"]
    assert await telegram.send_photo(receipt_photo("https://promo.example/x")) == [
        "receipt.photo_no_fiscal_qr", "receipt.ask"]
    big = InboundEvent(Channel.TELEGRAM, "1001", EventKind.PHOTO, update_id="big", attachment_error="too_large")
    assert [m.template for m in await telegram.engine.handle(big)] == ["receipt.photo_too_large", "receipt.ask"]


async def test_the_manual_chain_checks_each_step(telegram: Chat) -> None:
    await telegram.register()
    await telegram.send("/receipt")
    assert await telegram.press("receipt:manual") == ["receipt.ask_time"]
    assert await telegram.send("вчера") == ["receipt.bad_manual_time", "receipt.ask_time"]
    assert await telegram.send("15.03.2026 18:42") == ["receipt.ask_sum"]
    assert await telegram.send("много") == ["receipt.bad_manual_sum", "receipt.ask_sum"]
    assert await telegram.send("1249,50") == ["receipt.ask_fn"]
    assert await telegram.send("12345") == ["receipt.bad_manual_fn", "receipt.ask_fn"]
    assert await telegram.send("7380 4407 0012 3456") == ["receipt.ask_fd"]
    assert await telegram.send("-1") == ["receipt.bad_manual_fd", "receipt.ask_fd"]
    assert await telegram.send("48213") == ["receipt.ask_fp"]
    assert await telegram.send("abc") == ["receipt.bad_manual_fp", "receipt.ask_fp"]
    assert await telegram.send("2964503817") == ["receipt.confirm"]
    assert await telegram.press("receipt:yes") == ["receipt.accepted"]


async def test_typed_mistakes_name_the_field(telegram: Chat) -> None:
    await telegram.register()
    await telegram.send("/receipt")
    assert await telegram.send("привет") == ["receipt.not_fiscal", "receipt.ask"]
    assert await telegram.send(FISCAL.replace("&n=1", "")) == ["receipt.missing_field", "receipt.ask"]
    assert await telegram.send(FISCAL.replace("1249.50", "abc")) == ["receipt.bad_field", "receipt.ask"]
    assert telegram.param("field") == "sum"


async def test_refusal_reasons_reach_the_person(telegram: Chat) -> None:
    await telegram.register()
    assert await _upload(telegram, fiscal(n=2)) == ["receipt.refused_not_a_sale"]
    assert await _upload(telegram, fiscal(t="20251231T2359")) == ["receipt.refused_before_start"]
    assert await _upload(telegram, fiscal(t="20270101T0000")) == ["receipt.refused_after_end"]
    assert await _upload(telegram, fiscal(s="99.99")) == ["receipt.refused_below_min_sum"]


async def test_a_receipt_uploaded_twice_by_the_same_person_is_refused(telegram: Chat) -> None:
    await telegram.register()
    assert await _upload(telegram, FISCAL) == ["receipt.accepted"]
    assert await _upload(telegram, FISCAL) == ["receipt.refused_duplicate_own"]


async def test_the_same_receipt_from_someone_else_is_refused_and_flagged(engine: Engine, store) -> None:
    first, second = Chat.telegram(engine, "1"), Chat.vk(engine, "2")
    await first.register(phone="+79123456789")
    await second.register(phone="+79990001122")
    assert await _upload(first, FISCAL) == ["receipt.accepted"]
    assert await _upload(second, FISCAL) == ["receipt.refused_duplicate_other"]
    async with store.transaction() as tx:
        flag = (await tx.session.scalars(select(ReceiptFlagRow))).one()
    assert flag.person_id == second.last[0].person_id and flag.reason == "sent_by_another_person"


async def test_daily_and_hourly_limits_count_all_linked_accounts(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register()
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    assert await _upload(telegram, fiscal(i=1)) == ["receipt.accepted"]
    assert await _upload(vk, fiscal(i=2)) == ["receipt.accepted"]
    assert await _upload(telegram, fiscal(i=3)) == ["receipt.accepted"]
    assert await _upload(vk, fiscal(i=4)) == ["receipt.refused_hourly_limit"]
    clock.advance(hours=1, minutes=1)
    assert await _upload(vk, fiscal(i=4)) == ["receipt.accepted"]
    assert await _upload(telegram, fiscal(i=5)) == ["receipt.accepted"]
    clock.advance(hours=1, minutes=1)
    assert await _upload(vk, fiscal(i=6)) == ["receipt.refused_daily_limit"]


async def test_a_linked_account_cannot_send_the_receipt_again(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    assert await _upload(telegram, FISCAL) == ["receipt.accepted"]
    assert await _upload(vk, FISCAL) == ["receipt.refused_duplicate_own"]


async def test_merging_profiles_keeps_one_person_one_receipt(engine: Engine, store) -> None:
    telegram, vk = Chat.telegram(engine, "1"), Chat.vk(engine, "2")
    await telegram.register(phone="+79123456789")
    await vk.register(phone="+79990001122")
    assert await _upload(vk, fiscal(i=7)) == ["receipt.accepted"]
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    await vk.press("merge:yes")
    assert await _upload(telegram, fiscal(i=7)) == ["receipt.refused_duplicate_own"]
    assert await telegram.send("/balance") == ["cashback.balance"]
    assert telegram.param("available") == "62,47"


async def test_an_idle_person_pasting_a_string_starts_the_upload(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send(FISCAL) == ["receipt.confirm"]
    assert await telegram.press("receipt:no") == ["receipt.ask"]
    assert await telegram.send("/cancel") == ["common.cancelled"]
    assert await telegram.send("просто текст") == ["common.menu"]


async def test_receipts_need_registration(telegram: Chat) -> None:
    assert await telegram.send(f"/receipt {FISCAL}") == ["common.register_first", "registration.consent"]
