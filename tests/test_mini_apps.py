"""The Mini Apps' launch checks and the scanner's endpoints: forged, expired, replayed, someone else's, oversized.

Launches are signed as the messengers sign them, by the emulators' own code (``bots.emulators``), never by
the code under test; VK's own documented example checks our VK signature against a known answer.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.emulators.telegram_webapps import init_data
from bots.emulators.vk_apps import App, launch_params
from bots.mini_apps import MAX_LAUNCH_AGE, LaunchRefused, MiniApp
from bots.telegram_webapp import TelegramMiniApp
from bots.vk_app import VkMiniApp, launch_sign
from bots.web.app import build_app
from bots.web.scanner import MAX_TEXT, SCANS, Budget, receipt_like, scanner_routes
from bots.webchat_scan import WebChatMiniApp
from core.channels import ChannelName
from core.events import InboundEvent
from core.ports import NewUpdate

TOKEN = "123456:telegram-test-token"
USER = {"id": 1001, "first_name": "Анна", "last_name": "Петрова", "language_code": "ru"}
VK_APP = App(51_000_001, "vk-app-protected-key", "https://promo.example/scan/vk")
RECEIPT = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _now() -> None:
    """Each test's "now": the launches are signed at the real time, and a suite may run for half an hour."""
    global NOW
    NOW = datetime.now(UTC)


def telegram_app() -> TelegramMiniApp:
    return TelegramMiniApp(ChannelName("telegram"), "telegram:123456", TOKEN, "https://promo.example")


def vk_app() -> VkMiniApp:
    return VkMiniApp(ChannelName("vk"), "vk:220000001", 220_000_001, VK_APP.app_id, VK_APP.secret)


def vk_launch(user_id: int = 2001, app: App = VK_APP, **changed: str) -> str:
    params = launch_params(app, user_id)
    return urlencode({**params, **changed})


def resigned(data: str, **changed: str) -> str:
    """Telegram initData with fields changed after it was signed (the hash kept): what a forger can make."""
    fields = dict(parse_qsl(data))
    return urlencode({**fields, **changed})


# Telegram's initData --------------------------------------------------------------------------


def test_telegram_initdata_signed_with_the_bot_token_names_the_person() -> None:
    launch = telegram_app().check(init_data(TOKEN, USER), NOW)
    assert launch.account == "1001" and launch.user["first_name"] == "Анна"


@pytest.mark.parametrize("forgery", ["another_user", "another_token", "no_hash", "garbage"])
def test_forged_telegram_initdata_is_refused(forgery: str) -> None:
    genuine = init_data(TOKEN, USER)
    data = {
        "another_user": resigned(genuine, user=json.dumps({**USER, "id": 666})),  # someone else's id
        "another_token": init_data("999:another-bot", USER),  # signed for another bot
        "no_hash": urlencode({k: v for k, v in parse_qsl(genuine) if k != "hash"}),
        "garbage": "%%%&&&===",
    }[forgery]
    with pytest.raises(LaunchRefused) as refused:
        telegram_app().check(data, NOW)
    assert refused.value.reason == "forged"


def test_stale_telegram_initdata_is_refused_however_well_signed() -> None:
    old = int((NOW - MAX_LAUNCH_AGE - timedelta(seconds=5)).timestamp())
    with pytest.raises(LaunchRefused) as refused:
        telegram_app().check(init_data(TOKEN, USER, auth_date=old), NOW)
    assert refused.value.reason == "expired"
    almost = int((NOW - MAX_LAUNCH_AGE + timedelta(seconds=30)).timestamp())
    assert telegram_app().check(init_data(TOKEN, USER, auth_date=almost), NOW).account == "1001"


def test_telegram_initdata_from_the_future_or_oversized_or_empty_is_refused() -> None:
    ahead = int((NOW + timedelta(hours=1)).timestamp())
    for data, reason in ((init_data(TOKEN, USER, auth_date=ahead), "malformed"),
                         (init_data(TOKEN, USER, padding="x" * 5000), "malformed"), ("", "missing")):
        with pytest.raises(LaunchRefused) as refused:
            telegram_app().check(data, NOW)
        assert refused.value.reason == reason


# VK's launch parameters -------------------------------------------------------------------------


def test_vk_sign_matches_the_example_in_vks_documentation() -> None:
    query = ("vk_user_id=494075&vk_app_id=6736218&vk_is_app_user=1&vk_are_notifications_enabled=1&vk_language=ru"
             "&vk_access_token_settings=&vk_platform=android&sign=htQFduJpLxz7ribXRZpDFUH-XEUhC9rBPTJkjUFEkRA")
    params = dict(parse_qsl(query, keep_blank_values=True))
    assert launch_sign(params, "wvl68m4dR1UpLrVRli") == params["sign"]


def test_vk_launch_signed_with_the_apps_secret_names_the_person() -> None:
    assert vk_app().check(vk_launch(2001), NOW).account == "2001"
    assert vk_app().check("?" + vk_launch(2001), NOW).account == "2001"  # as location.search gives it


@pytest.mark.parametrize(("launch", "reason"), [
    (lambda: vk_launch(2001, vk_user_id="2002"), "forged"),  # someone else's id under the first one's sign
    (lambda: vk_launch(2001, sign="A" * 43), "forged"),
    (lambda: urlencode({k: v for k, v in parse_qsl(vk_launch(), keep_blank_values=True) if k != "sign"}), "forged"),
    (lambda: vk_launch(2001, App(VK_APP.app_id, "another-secret", VK_APP.url)), "forged"),
    (lambda: vk_launch(2001, App(52_000_002, VK_APP.secret, VK_APP.url)), "another_app"),
    (lambda: vk_launch() + "&vk_user_id=2002", "malformed"),  # a name twice: which one was signed?
    (lambda: "=&&=", "malformed"),
    (lambda: "", "missing"),
])
def test_forged_vk_launches_are_refused(launch: Any, reason: str) -> None:
    with pytest.raises(LaunchRefused) as refused:
        vk_app().check(launch(), NOW)
    assert refused.value.reason == reason


def test_a_stale_vk_launch_is_refused() -> None:
    old = int((NOW - MAX_LAUNCH_AGE - timedelta(seconds=5)).timestamp())
    params = launch_params(VK_APP, 2001, ts=old)
    with pytest.raises(LaunchRefused) as refused:
        vk_app().check(urlencode(params), NOW)
    assert refused.value.reason == "expired"


# what the page may post --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "accepted"), [
    (RECEIPT, True), ("T=20260315T1842&S=1249.50&FN=1&I=2&FP=3&N=1", True),
    ("/forget", False), ("/link 1234 5678 fn=1", False),  # a printed command never runs in the person's name
    ("https://promo.example/?fn=", True),  # looks like one: the chat itself names what is wrong with it
    ("https://promo.example/pack", False), ("t=1&fn=2\n/forget", False), ("fn=" + "1" * MAX_TEXT, False),
])
def test_only_a_receipt_like_string_reaches_the_chat(text: str, accepted: bool) -> None:
    assert receipt_like(text) is accepted


def test_the_budget_allows_a_few_scans_a_minute_and_more_an_hour() -> None:
    now = [0.0]
    budget = Budget(SCANS, clock=lambda: now[0])
    per_minute = SCANS[0][1]
    assert all(budget.spend("telegram:1") for _ in range(per_minute))
    assert not budget.spend("telegram:1") and budget.spend("telegram:2")  # one person's flood is theirs alone
    now[0] += 61
    assert budget.spend("telegram:1")


# the endpoints ---------------------------------------------------------------------------------


class FakeIntake:
    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], NewUpdate] = {}
        self.broken = False

    async def receive(self, bot: str, updates: list[NewUpdate], cursor: str | None = None) -> int:
        if self.broken:
            raise OSError("the database is away")
        new = [u for u in updates if (bot, u.update_id) not in self.stored]
        self.stored.update({(bot, u.update_id): u for u in new})
        return len(new)


class FakePhotos:
    def __init__(self, texts: tuple[str, ...] = (), error: str | None = None) -> None:
        self.texts, self.error, self.read_count = texts, error, 0

    async def read(self, event: InboundEvent) -> InboundEvent:
        self.read_count += 1
        return replace(event, qr_texts=self.texts, attachment_error=self.error)


async def scanner_client(photos: FakePhotos | None = None, apps: list[MiniApp] | None = None,
                         ) -> tuple[TestClient, FakeIntake]:
    intake = FakeIntake()
    routes = scanner_routes(intake, [telegram_app(), vk_app()] if apps is None else apps,  # type: ignore[arg-type]
                            photos or FakePhotos(), lambda: datetime.now(UTC))
    client = TestClient(TestServer(build_app("v1", routes)))
    await client.start_server()
    return client, intake


@pytest.fixture
async def http() -> Any:
    client, intake = await scanner_client()
    yield client, intake
    await client.close()


async def test_a_scan_under_a_genuine_launch_becomes_that_persons_typed_message(http: Any) -> None:
    client, intake = http
    answer = await client.post("/scan/telegram/text", json={"launch": init_data(TOKEN, USER), "text": RECEIPT})
    assert answer.status == 200 and (await answer.json()) == {"ok": True, "repeat": False}
    ((bot, key), update), = intake.stored.items()
    assert bot == "telegram:123456" and key.startswith("scan:") and update.account_id == "1001"
    assert update.raw["message"]["text"] == RECEIPT and update.raw["message"]["chat"]["id"] == 1001
    vk = await client.post("/scan/vk/text", json={"launch": vk_launch(2001), "text": RECEIPT})
    assert vk.status == 200
    (vk_update,) = [u for (b, _), u in intake.stored.items() if b == "vk:220000001"]
    assert vk_update.account_id == "2001" and vk_update.raw["object"]["message"]["peer_id"] == 2001


async def test_a_replayed_post_is_one_update(http: Any) -> None:
    client, intake = http
    body = {"launch": init_data(TOKEN, USER), "text": RECEIPT}
    first, again = [await client.post("/scan/telegram/text", json=body) for _ in range(2)]
    assert (await first.json())["repeat"] is False and (await again.json())["repeat"] is True
    assert len(intake.stored) == 1


@pytest.mark.parametrize(("launch", "reason"), [
    (lambda: resigned(init_data(TOKEN, USER), user=json.dumps({**USER, "id": 666})), "forged"),
    (lambda: init_data(TOKEN, USER, auth_date=int(time.time()) - 2 * 3600), "expired"),
    (lambda: "", "missing"),
])
async def test_forged_or_stale_launches_store_nothing(http: Any, launch: Any, reason: str) -> None:
    client, intake = http
    answer = await client.post("/scan/telegram/text", json={"launch": launch(), "text": RECEIPT})
    assert answer.status == 401 and (await answer.json()) == {"error": reason}
    assert intake.stored == {}


async def test_a_vk_launch_is_no_key_to_the_telegram_page_nor_the_other_way(http: Any) -> None:
    client, intake = http
    answers = [await client.post("/scan/telegram/text", json={"launch": vk_launch(), "text": RECEIPT}),
               await client.post("/scan/vk/text", json={"launch": init_data(TOKEN, USER), "text": RECEIPT})]
    assert [a.status for a in answers] == [401, 401] and intake.stored == {}


async def test_oversized_or_malformed_bodies_are_refused_before_anything_is_checked(http: Any) -> None:
    client, intake = http
    launch = init_data(TOKEN, USER)
    too_long = await client.post("/scan/telegram/text", json={"launch": launch, "text": "fn=" + "1" * MAX_TEXT})
    huge = await client.post("/scan/telegram/text", data=b"{" + b" " * 100_000 + b"}",
                             headers={"Content-Type": "application/json"})
    not_json = await client.post("/scan/telegram/text", data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    not_text = await client.post("/scan/telegram/text", json={"launch": launch, "text": ["t=1"]})
    nowhere = await client.post("/scan/max/text", json={"launch": launch, "text": RECEIPT})
    assert [too_long.status, huge.status, not_json.status, not_text.status, nowhere.status] == [413, 413, 400, 400, 404]
    assert intake.stored == {}


async def test_a_qr_of_something_else_is_answered_on_the_page_not_in_the_chat(http: Any) -> None:
    client, intake = http
    answer = await client.post("/scan/telegram/text", json={"launch": init_data(TOKEN, USER), "text": "/forget"})
    assert answer.status == 422 and (await answer.json()) == {"error": "not_receipt"} and intake.stored == {}


async def test_one_person_posting_too_often_is_held_back_and_others_are_not(http: Any) -> None:
    client, intake = http
    launch = init_data(TOKEN, USER)
    statuses = [(await client.post("/scan/telegram/text", json={"launch": launch, "text": f"{RECEIPT}&x={n}"})).status
                for n in range(SCANS[0][1] + 1)]
    assert statuses == [200] * SCANS[0][1] + [429]
    other = await client.post("/scan/telegram/text", json={"launch": init_data(TOKEN, {**USER, "id": 1002}),
                                                           "text": RECEIPT})
    assert other.status == 200 and len(intake.stored) == SCANS[0][1] + 1


async def test_a_database_away_is_a_503_to_try_again(http: Any) -> None:
    client, intake = http
    intake.broken = True
    answer = await client.post("/scan/telegram/text", json={"launch": init_data(TOKEN, USER), "text": RECEIPT})
    assert answer.status == 503 and (await answer.json()) == {"error": "try_again"}


def photo_form(launch: str, photo: bytes = b"\xff\xd8picture", launch_first: bool = True) -> aiohttp.FormData:
    form = aiohttp.FormData()
    fields: list[tuple[str, Any]] = [("launch", launch), ("photo", photo)]
    for name, value in fields if launch_first else reversed(fields):
        if name == "photo":
            form.add_field(name, value, filename="receipt.jpg", content_type="image/jpeg")
        else:
            form.add_field(name, value)
    return form


async def test_a_photo_goes_through_the_photo_reader_and_its_qr_string_into_the_chat() -> None:
    photos = FakePhotos(texts=("https://promo.example/pack", RECEIPT))
    client, intake = await scanner_client(photos)
    try:
        answer = await client.post("/scan/vk/photo", data=photo_form(vk_launch(2001)))
        assert answer.status == 200 and photos.read_count == 1
        (update,) = intake.stored.values()
        assert update.raw["object"]["message"]["text"] == RECEIPT
    finally:
        await client.close()


@pytest.mark.parametrize(("texts", "error", "expected"), [
    ((), "no_qr", "no_qr"), ((), "blurry", "blurry"), (("https://promo.example/pack",), None, "no_fiscal_qr"),
])
async def test_a_photo_without_a_receipt_qr_says_why_on_the_page(texts: tuple[str, ...], error: str | None,
                                                                 expected: str) -> None:
    client, intake = await scanner_client(FakePhotos(texts, error))
    try:
        answer = await client.post("/scan/telegram/photo", data=photo_form(init_data(TOKEN, USER)))
        assert answer.status == 422 and (await answer.json()) == {"error": expected} and intake.stored == {}
    finally:
        await client.close()


async def test_a_photo_is_not_even_read_before_its_launch_is_proved() -> None:
    photos = FakePhotos(texts=(RECEIPT,))
    client, intake = await scanner_client(photos)
    try:
        forged = await client.post("/scan/telegram/photo", data=photo_form(init_data("1:other", USER)))
        photo_first = await client.post("/scan/telegram/photo",
                                        data=photo_form(init_data(TOKEN, USER), launch_first=False))
        assert (forged.status, photo_first.status) == (401, 400)
        assert photos.read_count == 0 and intake.stored == {}
    finally:
        await client.close()


async def test_the_page_is_served_per_messenger_with_a_strict_policy(http: Any) -> None:
    client, _ = http
    telegram, vk = await client.get("/scan/telegram"), await client.get("/scan/vk")
    assert "https://telegram.org/js/telegram-web-app.js" in await telegram.text()
    assert "/scan/vk-bridge.js" in await vk.text() and "telegram.org" not in await vk.text()
    policy = telegram.headers["Content-Security-Policy"]
    assert "script-src 'self' https://telegram.org/js/telegram-web-app.js" in policy
    assert "connect-src 'self'" in policy and "frame-ancestors https://web.telegram.org" in policy
    assert (await client.get("/scan/vk-bridge.js")).status == 200
    assert (await client.get("/scan/max")).status == 404


async def test_no_mini_app_no_scanner_page() -> None:
    client, _ = await scanner_client(apps=[])
    try:
        assert (await client.get("/scan/telegram")).status == 404
    finally:
        await client.close()


# the web chat's own launches -------------------------------------------------------------------


def test_the_web_chats_link_is_a_launch_of_that_browser_only() -> None:
    app = WebChatMiniApp(ChannelName("webchat"), "webchat:site", b"webchat-secret")
    link = app.link_for("a" * 40, NOW)
    assert link.startswith("/scan/web#") and app.link_for("a" * 40, NOW + timedelta(seconds=1)) == link
    launch = link.split("#", 1)[1]
    assert app.check(launch, NOW).account == "a" * 40
    account, ts, sign = launch.split(".")
    for forged, reason in ((f"{'b' * 40}.{ts}.{sign}", "forged"),  # another browser's account, same signature
                           (f"{account}.{int(ts) + 3600}.{sign}", "forged"),  # made younger
                           (WebChatMiniApp(ChannelName("webchat"), "webchat:site", b"other").link_for(
                               account, NOW).split("#", 1)[1], "forged"),
                           (f"{account}.{sign}", "malformed"), ("", "missing")):
        with pytest.raises(LaunchRefused) as refused:
            app.check(forged, NOW)
        assert refused.value.reason == reason
    with pytest.raises(LaunchRefused) as refused:
        app.check(launch, NOW + MAX_LAUNCH_AGE + timedelta(minutes=11))
    assert refused.value.reason == "expired"


async def test_the_web_chats_page_loads_no_messenger_script_and_is_framed_by_nobody() -> None:
    web = WebChatMiniApp(ChannelName("webchat"), "webchat:site", b"webchat-secret")
    client, _ = await scanner_client(apps=[web])
    try:
        page = await client.get("/scan/web")
        text = await page.text()
        assert page.status == 200 and "vk-bridge" not in text and "telegram.org" not in text
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    finally:
        await client.close()
