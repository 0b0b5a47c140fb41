from __future__ import annotations

from core import moderation
from core.engine import Engine
from core.events import EventKind, InboundEvent
from core.ports import ReceiptStatus
from tests.chat import TELEGRAM, Chat
from tests.images import receipt_photo

FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


def fiscal(i: int = 48213, s: str = "1249.50", t: str = "20260315T1842", n: int = 1) -> str:
    return f"t={t}&s={s}&fn=7380440700123456&i={i}&fp=2964503817&n={n}"


async def _upload(chat: Chat, text: str) -> list[str]:
    shown = await chat.send(text)
    assert shown == ["receipt.confirm"], shown
    return await chat.press("receipt:yes")


async def _balance(chat: Chat) -> tuple[object, object]:
    await chat.send("/balance")
    return chat.param("available"), chat.param("pending")


async def test_a_typed_string_is_confirmed_then_accepted_pending_moderation(telegram: Chat, store) -> None:
    await telegram.register()
    assert await telegram.send(FISCAL) == ["receipt.confirm"]
    assert (telegram.param("sum"), telegram.param("fd"), telegram.param("when")) == ("1 249,50", "48213",
                                                                                      "15.03.2026 18:42")
    assert (telegram.param("cashback"), telegram.param("entries")) == ("62,47", 12)  # said before "yes"
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]
    assert telegram.param("cashback") == "62,47" and telegram.param("entries") == 12
    assert await _balance(telegram) == ("0,00", "62,47")  # never withdrawable on the person's word alone
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.of_person(telegram.last[0].person_id)
        assert await tx.ledger.total() == 0  # double entry: every movement balances
    assert (receipt.sum_kopecks, receipt.cashback_kopecks, receipt.source, receipt.status) == (
        124950, 6247, "typed", ReceiptStatus.MODERATION)


async def test_staff_approval_releases_the_cashback_and_tells_the_person(telegram: Chat, store, clock) -> None:
    await telegram.register()
    await _upload(telegram, FISCAL)
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.with_status(ReceiptStatus.MODERATION)
        decision = await moderation.approve(tx, receipt.id, clock())
        again = await moderation.approve(tx, receipt.id, clock())
        notices = await tx.messages.entries(template="receipt.approved")
    assert decision.changed and not again.changed
    assert len(notices) == 1 and notices[0].channel is None  # the router picks where it goes
    assert await _balance(telegram) == ("62,47", "0,00")


async def test_staff_rejection_reverses_the_cashback_and_says_why(telegram: Chat, store, clock) -> None:
    await telegram.register()
    await _upload(telegram, FISCAL)
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.with_status(ReceiptStatus.MODERATION)
        await moderation.reject(tx, receipt.id, "чек не из сети-партнёра", clock())
        (notice,) = await tx.messages.entries(template="receipt.rejected")
        assert await tx.ledger.total() == 0
    assert notice.params["reason"] == "чек не из сети-партнёра"
    assert await _balance(telegram) == ("0,00", "0,00")


async def test_a_photo_goes_through_the_qr_pipeline_and_is_kept_for_staff(telegram: Chat, store) -> None:
    await telegram.register()
    photo = receipt_photo(FISCAL)
    assert await telegram.send_photo(photo) == ["receipt.confirm"]
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.of_person(telegram.last[0].person_id)
        kept = await tx.photos.get(receipt.person_id, receipt.photo_sha256 or "")
    assert receipt.source == "photo" and kept == photo


async def test_receipt_command_then_photo(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send("/receipt") == ["receipt.ask"]
    assert await telegram.send_photo(receipt_photo(FISCAL)) == ["receipt.confirm"]


async def test_words_reach_the_receipt_upload(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send("Чек") == ["receipt.ask"]


async def test_unreadable_photos_say_why_and_offer_the_manual_chain(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send_photo(receipt_photo()) == ["receipt.photo_no_qr", "receipt.ask"]
    assert await telegram.send_photo(b"not a picture") == ["receipt.photo_not_an_image", "receipt.ask"]
    assert await telegram.send_photo(receipt_photo("https://promo.example/x")) == [
        "receipt.photo_no_fiscal_qr", "receipt.ask"]
    for reason in ("too_large", "busy", "too_slow"):
        event = InboundEvent(TELEGRAM, "1001", EventKind.PHOTO, update_id=reason, attachment_error=reason)
        assert [m.template for m in await telegram.engine.handle(event)] == [f"receipt.photo_{reason}",
                                                                             "receipt.ask"]


async def test_a_till_qr_with_one_bad_field_names_the_field(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send_photo(receipt_photo(fiscal(s="12,49.50"))) == ["receipt.bad_field", "receipt.ask"]
    assert telegram.param("field") == "сумма"


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
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]


async def test_typed_mistakes_name_the_field(telegram: Chat) -> None:
    await telegram.register()
    await telegram.send("/receipt")
    assert await telegram.send("привет") == ["receipt.not_fiscal", "receipt.ask"]
    assert await telegram.send(FISCAL.replace("&n=1", "")) == ["receipt.missing_field", "receipt.ask"]
    assert await telegram.send(FISCAL.replace("1249.50", "abc")) == ["receipt.bad_field", "receipt.ask"]
    assert telegram.param("field") == "сумма"


async def test_refusals_come_before_the_confirmation(telegram: Chat, clock) -> None:
    await telegram.register()
    assert await telegram.send(fiscal(n=2)) == ["receipt.refused_not_a_sale"]
    assert await telegram.send(fiscal(t="20251231T2359")) == ["receipt.refused_before_start"]
    assert await telegram.send(fiscal(s="99.99")) == ["receipt.refused_below_min_sum"]
    clock.advance(days=45)  # 2027 now: the campaign is over
    assert await telegram.send(fiscal(t="20270101T0000")) == ["receipt.refused_after_end"]


async def test_a_receipt_from_the_future_is_refused_but_clock_drift_is_allowed(telegram: Chat, clock) -> None:
    await telegram.register()  # the clock says 2026-11-23 12:00 in Moscow
    assert await telegram.send(fiscal(t="20261124T1200")) == ["receipt.refused_in_future"]
    assert await telegram.send(fiscal(t="20261123T1204")) == ["receipt.confirm"]  # a till 4 minutes ahead


async def test_entries_are_capped_per_receipt_and_per_person(engine: Engine, settings) -> None:
    huge = Chat.telegram(engine, "7")
    await huge.register(phone="+79991112233")
    assert await huge.send(fiscal(s="99999999.99", i=1)) == ["receipt.confirm"]
    assert huge.param("entries") == settings.campaign_max_entries_per_receipt
    assert huge.param("cashback") == "500,00"


async def test_a_receipt_uploaded_twice_by_the_same_person_is_refused_before_asking(telegram: Chat) -> None:
    await telegram.register()
    assert await _upload(telegram, FISCAL) == ["receipt.accepted_moderation"]
    assert await telegram.send(FISCAL) == ["receipt.refused_duplicate_own"]


async def test_the_same_receipt_from_someone_else_is_refused_and_flagged(engine: Engine, store) -> None:
    first, second = Chat.telegram(engine, "1"), Chat.vk(engine, "2")
    await first.register(phone="+79123456789")
    await second.register(phone="+79990001122")
    assert await _upload(first, FISCAL) == ["receipt.accepted_moderation"]
    assert await second.send(FISCAL) == ["receipt.refused_duplicate_other"]
    async with store.transaction() as tx:
        (flag,) = await tx.receipts.flags()
    assert flag.person_id == second.last[0].person_id and flag.reason == "sent_by_another_person"


async def test_limits_count_all_linked_accounts_and_say_when_they_free_up(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register()
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    await telegram.press(f"/link_approve {vk.param('attempt')}")
    assert await _upload(telegram, fiscal(i=1)) == ["receipt.accepted_moderation"]
    clock.advance(minutes=4)
    assert await _upload(vk, fiscal(i=2)) == ["receipt.accepted_moderation"]
    assert await _upload(telegram, fiscal(i=3)) == ["receipt.accepted_moderation"]
    assert await vk.send(fiscal(i=4)) == ["receipt.refused_hourly_limit"]
    assert vk.param("free_at") == "13:01 МСК"  # the first of the three (12:00 in Moscow) leaves the hour
    clock.advance(hours=1, minutes=1)
    assert await _upload(vk, fiscal(i=4)) == ["receipt.accepted_moderation"]
    assert await _upload(telegram, fiscal(i=5)) == ["receipt.accepted_moderation"]
    clock.advance(hours=1, minutes=1)
    assert await vk.send(fiscal(i=6)) == ["receipt.refused_daily_limit"]
    assert vk.param("free_at") == "24.11 00:00 МСК"


async def test_a_linked_account_cannot_send_the_receipt_again(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    await telegram.press(f"/link_approve {vk.param('attempt')}")
    assert await _upload(telegram, FISCAL) == ["receipt.accepted_moderation"]
    assert await vk.send(FISCAL) == ["receipt.refused_duplicate_own"]


async def test_merging_profiles_keeps_one_person_one_receipt(engine: Engine, store, clock) -> None:
    telegram, vk = Chat.telegram(engine, "1"), Chat.vk(engine, "2")
    await telegram.register(phone="+79123456789")
    await vk.register(phone="+79990001122")
    assert await _upload(vk, fiscal(i=7)) == ["receipt.accepted_moderation"]
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    await vk.press("merge:yes")
    await telegram.press(f"/link_approve {vk.param('attempt')}")
    assert await telegram.send(fiscal(i=7)) == ["receipt.refused_duplicate_own"]
    assert await _balance(telegram) == ("0,00", "62,47")


async def test_an_idle_person_pasting_a_string_starts_the_upload(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send(FISCAL) == ["receipt.confirm"]
    assert await telegram.press("receipt:no") == ["receipt.ask"]
    assert await telegram.send("/cancel") == ["common.cancelled"]
    assert await telegram.send("просто текст") == ["common.menu"]


async def test_receipts_need_registration(telegram: Chat) -> None:
    assert await telegram.send(f"/receipt {FISCAL}") == ["common.register_first", "registration.consent"]


async def test_a_receipt_sent_before_registering_is_kept_and_checked_after(telegram: Chat) -> None:
    assert await telegram.send_photo(receipt_photo(FISCAL)) == ["registration.receipt_kept", "registration.consent"]
    await telegram.press("consent:yes")
    assert await telegram.send(fiscal(i=2)) == ["registration.receipt_kept", "registration.ask_name"]
    await telegram.send("Анна")
    await telegram.send("+7 912 345-67-89")
    assert await telegram.press("email:skip") == ["registration.done", "receipt.confirm", "receipt.queued"]
    assert telegram.last[1].params["fd"] == "48213"
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation", "receipt.next_in_queue",
                                                   "receipt.confirm"]
    assert telegram.last[-1].params["fd"] == "2"
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]


async def test_a_photo_kept_before_registering_stays_with_its_receipt(telegram: Chat, store) -> None:
    photo = receipt_photo(FISCAL)
    await telegram.send_photo(photo)
    await telegram.register()
    assert telegram.last[-1].template == "receipt.confirm"
    await telegram.press("receipt:yes")
    async with store.transaction() as tx:
        (receipt,) = await tx.receipts.of_person(telegram.last[0].person_id)
        assert await tx.photos.get(receipt.person_id, receipt.photo_sha256 or "") == photo


async def test_a_second_receipt_waiting_for_confirmation_is_kept_on_the_persons_choice(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send(fiscal(i=1)) == ["receipt.confirm"]
    assert await telegram.send(fiscal(i=2)) == ["receipt.another"]
    assert await telegram.press("receipt:queue") == ["receipt.queued", "receipt.confirm"]
    assert telegram.last[-1].params["fd"] == "1"
    assert await telegram.send_photo(receipt_photo(fiscal(i=3))) == ["receipt.another"]
    assert await telegram.press("receipt:replace") == ["receipt.next_in_queue", "receipt.confirm"]
    assert telegram.last[-1].params["fd"] == "3"
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation", "receipt.next_in_queue",
                                                   "receipt.confirm"]
    assert telegram.last[-1].params["fd"] == "2"
    assert await telegram.press("receipt:yes") == ["receipt.accepted_moderation"]


async def test_an_old_button_says_it_is_no_longer_current(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.press("consent:yes") == ["common.stale_button", "common.menu"]
    await telegram.send(FISCAL)
    assert await telegram.press("email:skip") == ["common.stale_button", "receipt.confirm"]
