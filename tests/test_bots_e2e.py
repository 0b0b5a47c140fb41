"""The real aiogram Dispatcher and the real vkbottle Bot, over HTTP, against our API emulators."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.channels import ChannelName
from tests.platform import eventually, link_code_in, platform_settings, point_channels_at, started

TG_USER, VK_USER = 1001, 2001


@pytest.fixture
async def platform(tmp_path, emulators):
    running = await started(platform_settings(tmp_path), emulators[1])
    yield running
    await running.stop()


async def _account(platform, channel: str, user: int):
    async with platform.store.transaction() as tx:
        return await tx.people.find_by_account(ChannelName(channel), str(user))


async def _outbox(platform):
    async with platform.store.transaction() as tx:
        return await tx.messages.entries()


async def _register_in_telegram(telegram: TelegramEmulator, user: int = TG_USER) -> None:
    await telegram.user_text(user, "/start")
    await telegram.wait_for_messages(user, 1)
    await telegram.user_press(user, "consent:yes")
    await telegram.wait_for_messages(user, 2)
    await telegram.user_text(user, "Анна Петрова")
    await telegram.wait_for_messages(user, 3)
    await telegram.user_contact(user, "+79123456789")
    await telegram.wait_for_messages(user, 4)
    await telegram.user_press(user, "email:skip")
    await telegram.wait_for_messages(user, 5)


async def test_registration_in_telegram(platform, emulators) -> None:
    telegram, _ = emulators
    await _register_in_telegram(telegram)
    consent, _name, phone, _email, done = telegram.messages_to(TG_USER)
    assert consent.parse_mode == "HTML" and '<a href="' in consent.text
    assert consent.reply_markup["inline_keyboard"][0][0]["callback_data"] == "consent:yes"
    assert phone.reply_markup["keyboard"][0][0]["request_contact"] is True
    assert "+7 912 345-67-89" in done.text and "<b>Анна Петрова</b>" in done.text
    _, person = await _account(platform, "telegram", TG_USER)
    assert person.phone == "+79123456789" and person.phone_verified and person.registered_at


async def test_registration_in_vk_with_keyboard_payloads(platform, emulators) -> None:
    _, vk = emulators
    await vk.user_text(VK_USER, "Начать")
    (consent,) = await vk.wait_for_messages(VK_USER, 1)
    agree = consent.keyboard["buttons"][0][0]["action"]
    assert agree["type"] == "text" and json.loads(agree["payload"]) == {"p": "consent:yes"}
    assert all(len(b["action"]["label"]) <= 40 for row in consent.keyboard["buttons"] for b in row)
    await vk.user_press(VK_USER, agree["payload"], agree["label"])
    await vk.wait_for_messages(VK_USER, 2)
    await vk.user_text(VK_USER, "Пётр")
    await vk.wait_for_messages(VK_USER, 3)
    await vk.user_text(VK_USER, "8 999 000-11-22")
    messages = await vk.wait_for_messages(VK_USER, 4)
    assert "e-mail" in messages[-1].text.lower()
    assert all(m.random_id for m in messages)


async def test_link_code_from_telegram_entered_in_vk_gives_one_person_once_approved(platform, emulators) -> None:
    telegram, vk = emulators
    await _register_in_telegram(telegram)
    await telegram.user_text(TG_USER, "/link")
    issued = (await telegram.wait_for_messages(TG_USER, 6))[-1]
    await vk.user_text(VK_USER, f"/link {link_code_in(issued.text)}")
    (waiting,) = await vk.wait_for_messages(VK_USER, 1)
    assert "Анна" not in waiting.text and "Telegram" in waiting.text
    question = (await telegram.wait_for_messages(TG_USER, 7))[-1]
    assert "VK" in question.text
    yes = question.reply_markup["inline_keyboard"][0][0]
    await telegram.user_press(TG_USER, yes["callback_data"])
    done = (await vk.wait_for_messages(VK_USER, 2))[-1]
    assert "Анна Петрова" in done.text
    (_, tg_person), (_, vk_person) = await _account(platform, "telegram", TG_USER), await _account(platform, "vk",
                                                                                               VK_USER)
    assert tg_person.id == vk_person.id


async def test_blocked_bot_marks_the_account_unreachable(platform, emulators) -> None:
    telegram, _ = emulators
    telegram.block(TG_USER)
    await telegram.user_text(TG_USER, "/start")

    async def marked():
        found = await _account(platform, "telegram", TG_USER)
        return found and found[0].unreachable_since is not None

    await eventually(marked)
    (row,) = await _outbox(platform)
    assert row.status == "unreachable" and "blocked" in (row.last_error or "")


async def test_vk_without_permission_marks_the_account_unreachable(platform, emulators) -> None:
    _, vk = emulators
    vk.block(VK_USER)
    await vk.user_text(VK_USER, "привет")

    async def marked():
        found = await _account(platform, "vk", VK_USER)
        return found and found[0].unreachable_since is not None

    await eventually(marked)
    (row,) = await _outbox(platform)
    assert row.status == "unreachable" and "901" in (row.last_error or "")


async def test_retry_after_is_honoured(platform, emulators) -> None:
    telegram, _ = emulators
    telegram.throttle(TG_USER, sends=1, retry_after=1)
    await telegram.user_text(TG_USER, "/start")
    await telegram.wait_for_messages(TG_USER, 1, timeout=15)
    sends = [at for at, method, _ in telegram.calls if method.lower() == "sendmessage"]
    assert len(sends) == 2 and sends[1] - sends[0] >= 1.0


async def test_vk_flood_control_is_retried(platform, emulators) -> None:
    _, vk = emulators
    vk.throttle(VK_USER, sends=1)
    await vk.user_text(VK_USER, "привет")
    (_message,) = await vk.wait_for_messages(VK_USER, 1, timeout=15)
    sends = [p for _, method, p in vk.calls if method == "messages.send"]
    assert len(sends) == 2 and sends[0]["random_id"] == sends[1]["random_id"]


async def test_an_update_delivered_twice_is_handled_once(platform, emulators) -> None:
    telegram, vk = emulators
    update_id = await telegram.user_text(TG_USER, "/start")
    await telegram.wait_for_messages(TG_USER, 1)
    await telegram.redeliver(update_id)
    await telegram.user_text(TG_USER, "/help")
    await telegram.wait_for_messages(TG_USER, 3)
    await vk.user_text(VK_USER, "привет")
    await vk.wait_for_messages(VK_USER, 1)
    await vk.redeliver_last()
    await vk.user_text(VK_USER, "/help")
    await vk.wait_for_messages(VK_USER, 3)
    assert len(telegram.messages_to(TG_USER)) == 3 and len(vk.messages_to(VK_USER)) == 3


async def test_a_process_restarted_mid_scenario_resumes(tmp_path, emulators) -> None:
    telegram, _ = emulators
    settings = platform_settings(tmp_path)
    first = await started(settings, emulators[1])
    await telegram.user_text(TG_USER, "/start")
    await telegram.wait_for_messages(TG_USER, 1)
    await telegram.user_press(TG_USER, "consent:yes")
    await telegram.wait_for_messages(TG_USER, 2)
    await first.stop()
    await telegram.user_text(TG_USER, "Анна")  # arrives while nobody polls
    second = await started(settings, emulators[1])
    try:
        messages = await telegram.wait_for_messages(TG_USER, 3)
        assert messages[-1].reply_markup["keyboard"][0][0]["request_contact"] is True
    finally:
        await second.stop()


async def test_stickers_and_unknown_commands_get_an_answer(platform, emulators) -> None:
    telegram, vk = emulators
    await telegram.user_sticker(TG_USER)
    await telegram.user_text(TG_USER, "/frobnicate")
    await vk.user_sticker(VK_USER)
    first, second = await telegram.wait_for_messages(TG_USER, 2)
    assert "не могу" in first.text and "/frobnicate" in second.text
    (vk_first,) = await vk.wait_for_messages(VK_USER, 1)
    assert "не могу" in vk_first.text


async def test_a_photo_arrives_as_bytes_of_the_largest_size(platform, emulators) -> None:
    telegram, vk = emulators
    await telegram.user_photo(TG_USER, b"\xff\xd8" + b"x" * 5000)
    await vk.user_photo(VK_USER, b"\xff\xd8" + b"y" * 5000)
    await telegram.wait_for_messages(TG_USER, 1)
    await vk.wait_for_messages(VK_USER, 1)
    downloads = [p for _, method, p in telegram.calls if method.lower() == "getfile"]
    assert downloads and telegram.files[downloads[0]["file_id"]][:2] == b"\xff\xd8"
    assert len(telegram.files[downloads[0]["file_id"]]) == 5002


@pytest.fixture
async def webhook_platform(tmp_path, emulators, monkeypatch):
    point_channels_at(monkeypatch, *emulators, WEBHOOK_PATH_SECRET="s" * 24, VK_CALLBACK_SECRET="vk-secret",
                      VK_CONFIRMATION_CODE="abc123")
    running = await started(platform_settings(tmp_path, bot_mode="webhook"))
    yield running
    await running.stop()


async def test_webhook_mode_rejects_a_wrong_secret(webhook_platform, emulators) -> None:
    telegram, vk = emulators
    telegram.set_user(TG_USER, "Анна")
    update = {"update_id": 5, "message": {"message_id": 1, "date": 1, "text": "/start",
                                          "chat": {"id": TG_USER, "type": "private"},
                                          "from": {"id": TG_USER, "is_bot": False, "first_name": "Анна"}}}
    async with aiohttp.ClientSession(webhook_platform.web_url) as http:
        wrong = await http.post("/webhook/telegram", json=update,
                                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert wrong.status == 401
        right = await http.post("/webhook/telegram", json=update,
                                headers={"X-Telegram-Bot-Api-Secret-Token": "s" * 24})
        assert right.status == 200
        await telegram.wait_for_messages(TG_USER, 1)
        confirm = await http.post("/webhook/vk", json={"type": "confirmation", "group_id": vk.group_id})
        assert await confirm.text() == "abc123"
        bad = await http.post("/webhook/vk", json={"type": "message_new", "secret": "nope", "object": {},
                                                   "group_id": vk.group_id})
        assert bad.status == 403
        other = await http.post("/webhook/vk", json={"type": "confirmation", "group_id": vk.group_id + 1})
        assert other.status == 403
        garbage = await http.post("/webhook/vk", data=b"{not json")
        assert garbage.status == 400
    assert len(telegram.messages_to(TG_USER)) == 1


async def _register_in_vk(vk: VkEmulator, user: int = VK_USER) -> None:
    await vk.user_text(user, "Начать")
    await vk.wait_for_messages(user, 1)
    await vk.user_press(user, '{"p": "consent:yes"}', "Согласен")
    await vk.wait_for_messages(user, 2)
    await vk.user_text(user, "Пётр")
    await vk.wait_for_messages(user, 3)
    await vk.user_text(user, "+79990001122")
    await vk.wait_for_messages(user, 4)
    await vk.user_press(user, '{"p": "email:skip"}', "Пропустить")
    await vk.wait_for_messages(user, 5)


async def test_a_receipt_photo_through_telegram_gets_a_reply(platform, emulators) -> None:
    from tests.images import receipt_photo

    telegram, _ = emulators
    await _register_in_telegram(telegram)
    fiscal = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
    await telegram.user_photo(TG_USER, receipt_photo(fiscal))
    confirm = (await telegram.wait_for_messages(TG_USER, 6))[-1]
    assert "1 249,50" in confirm.text and "48213" in confirm.text
    await telegram.user_press(TG_USER, "receipt:yes")
    accepted = (await telegram.wait_for_messages(TG_USER, 7))[-1]
    assert "Чек принят" in accepted.text and "62,47" in accepted.text
    await telegram.user_document(TG_USER, receipt_photo(fiscal, fmt="PNG"), "scan.png", "image/png")
    again = (await telegram.wait_for_messages(TG_USER, 8))[-1]
    assert "уже загружали" in again.text  # said at once, before any "yes"


async def test_a_receipt_photo_through_vk_gets_a_reply(platform, emulators) -> None:
    from tests.images import receipt_photo

    _, vk = emulators
    await _register_in_vk(vk)
    await vk.user_photo(VK_USER, receipt_photo("https://promo.example/x"))
    refused = await vk.wait_for_messages(VK_USER, 7)
    assert "не с кассового чека" in refused[5].text
    fiscal = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
    await vk.user_photo(VK_USER, receipt_photo(fiscal))
    confirm = (await vk.wait_for_messages(VK_USER, 8))[-1]
    yes = confirm.keyboard["buttons"][0][0]["action"]
    await vk.user_press(VK_USER, yes["payload"], yes["label"])
    accepted = (await vk.wait_for_messages(VK_USER, 9))[-1]
    assert "Чек принят" in accepted.text


async def test_the_bots_wait_for_an_api_server_that_comes_up_late(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    telegram = TelegramEmulator()
    port_holder = TelegramEmulator()
    base = await port_holder.start()
    await port_holder.stop()  # a port where nothing answers yet
    point_channels_at(monkeypatch, None, None, TELEGRAM_BOT_TOKEN="123456:test-token", TELEGRAM_API_BASE=base)
    platform = await started(platform_settings(tmp_path))
    try:
        port = int(base.rsplit(":", 1)[1])
        await telegram.start(port=port)
        await telegram.user_text(TG_USER, "/start")
        await telegram.wait_for_messages(TG_USER, 1, timeout=30)
    finally:
        await platform.stop()
        await telegram.stop()


async def test_a_hint_with_a_picture_goes_out_as_a_photo(platform, emulators) -> None:
    from tests.images import receipt_photo

    telegram, vk = emulators
    await _register_in_telegram(telegram)
    await telegram.user_photo(TG_USER, receipt_photo())
    hint = (await telegram.wait_for_messages(TG_USER, 7))[5]
    assert hint.photo and "QR" in hint.text
    await _register_in_vk(vk)
    await vk.user_photo(VK_USER, receipt_photo())
    vk_hint = (await vk.wait_for_messages(VK_USER, 7))[5]
    assert vk_hint.attachment.startswith("photo-") and "QR" in vk_hint.text
    uploads = [method for _, method, _ in vk.calls if method.startswith("photos.")]
    assert uploads == ["photos.getMessagesUploadServer", "photos.saveMessagesPhoto"]


@pytest.mark.filterwarnings("ignore:Detected unknown update type")
async def test_a_malformed_update_is_answered_and_does_not_stall_polling(platform, emulators) -> None:
    telegram, vk = emulators
    telegram.set_user(TG_USER, "Анна")
    await telegram.push_update({"message": {"message_id": 1, "text": "no date",
                                            "chat": {"id": TG_USER, "type": "private"}}})
    await telegram.push_update({"no_such_kind": True})
    await telegram.user_text(TG_USER, "/start")
    unreadable, consent = await telegram.wait_for_messages(TG_USER, 2)
    assert "не могу" in unreadable.text and "согласие" in consent.text
    vk.events.append((vk.ts + 1, {"type": "message_new", "object": {"message": "garbage"}}))
    vk.ts += 1
    await vk.user_text(VK_USER, "привет")
    (consent_vk,) = await vk.wait_for_messages(VK_USER, 1)
    assert "согласие" in consent_vk.text
