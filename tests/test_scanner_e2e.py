"""The «📷 Сканировать QR» button end to end over HTTP: the real bots, our emulators, the scanner's endpoints.

The button is offered only where it runs (a public web app; https for Telegram; a configured VK app),
and a scan posted under the launch the messenger signed is answered in that person's chat exactly as
the same string typed there would be. The page itself is driven in Chromium by test_scanner_browser.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bots.emulators.telegram_api import BotMessage, TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from run import Platform
from tests.images import receipt_photo
from tests.platform import eventually, platform_settings, point_channels_at, started
from tests.test_crash import free_port
from tests.test_journey_e2e import PHOTO_WAIT, TG_OTHER, TG_USER, VK_USER, TgUser, VkUser, fiscal, vk_buttons

VK_APP_ID, VK_APP_SECRET = 51_234_567, "vk-mini-app-protected-key"
SCAN_LABEL = "📷 Сканировать QR"

Launch = Callable[..., Awaitable[Platform]]


@pytest.fixture(name="launch")
async def launch_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         emulators: tuple[TelegramEmulator, VkEmulator]) -> AsyncIterator[Launch]:
    """The platform with a public web app (``public=False``: none), the VK app registered at the emulator."""
    running: list[Platform] = []

    async def start(public: bool = True, over_http: bool = True, vk_app: bool = True) -> Platform:
        port = free_port()  # the buttons name the web app's address, so it is known before the start
        url = f"http://127.0.0.1:{port}"
        extra: dict[str, str | None] = {"PUBLIC_URL": url if public else None, "WEBCHAT_ENABLED": "true",
                                        "TELEGRAM_WEB_APP_OVER_HTTP": "true" if over_http else None,
                                        "VK_APP_ID": str(VK_APP_ID) if vk_app else None,
                                        "VK_APP_SECRET": VK_APP_SECRET if vk_app else None}
        point_channels_at(monkeypatch, *emulators, **extra)
        emulators[1].register_app(VK_APP_ID, VK_APP_SECRET, f"{url}/scan/vk")
        platform = await started(platform_settings(tmp_path, web_port=port), emulators[1])
        running.append(platform)
        return platform

    yield start
    for platform in running:
        await platform.stop()


def web_app_of(message: BotMessage) -> str | None:
    for row in (message.reply_markup or {}).get("inline_keyboard") or []:
        for button in row:
            if "web_app" in button:
                assert button["text"] == SCAN_LABEL
                return str(button["web_app"]["url"])
    return None


def init_data_in(launch_url: str) -> str:
    """What Telegram.WebApp.initData holds on the page the client opened."""
    return parse_qs(urlsplit(launch_url).fragment)["tgWebAppData"][0]


async def post(platform: Platform, path: str, **body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(f"{platform.web_url}{path}", **body) as answer:
        return answer.status, await answer.json()


async def telegram_asks_for_a_receipt(tg: TgUser) -> BotMessage:
    await tg.register()
    (ask,) = await tg.says("/receipt")
    assert "Пришлите фото чека" in ask.text
    return ask


async def test_a_telegram_scan_is_confirmed_in_the_persons_chat_as_if_typed(launch: Launch, emulators: Any) -> None:
    platform = await launch()
    tg, other = TgUser(emulators[0], TG_USER), TgUser(emulators[0], TG_OTHER)
    ask = await telegram_asks_for_a_receipt(tg)
    url = web_app_of(ask)
    assert url == f"{platform.web_url}/scan/telegram"
    before = emulators[0].outbox.count(TG_USER)
    status, answer = await post(platform, "/scan/telegram/text",
                                json={"launch": init_data_in(emulators[0].open_web_app(TG_USER, url)),
                                      "text": fiscal()})
    assert (status, answer) == (200, {"ok": True, "repeat": False})
    (confirm,) = (await emulators[0].wait_for_messages(TG_USER, before + 1))[before:]
    await other.register("Борис", "+79120000000")  # the same string typed by someone else: the same reply
    await other.says("/receipt")
    (typed,) = await other.says(fiscal(document=48214))
    assert "Проверьте данные чека" in confirm.text and "1 249,50 ₽" in confirm.text
    assert confirm.text.replace("48213", "48214") == typed.text
    assert confirm.reply_markup == typed.reply_markup
    (accepted,) = await tg.presses("receipt:yes")
    assert "Чек принят" in accepted.text


async def test_a_photo_from_the_page_goes_through_the_photo_reader_into_the_chat(launch: Launch,
                                                                                  emulators: Any) -> None:
    platform = await launch()
    tg = TgUser(emulators[0], TG_USER)
    url = web_app_of(await telegram_asks_for_a_receipt(tg))
    assert url is not None
    form = aiohttp.FormData()
    form.add_field("launch", init_data_in(emulators[0].open_web_app(TG_USER, url)))
    form.add_field("photo", receipt_photo(fiscal()), filename="receipt.jpg", content_type="image/jpeg")
    before = emulators[0].outbox.count(TG_USER)
    status, _ = await post(platform, "/scan/telegram/photo", data=form)
    assert status == 200
    (confirm,) = (await emulators[0].wait_for_messages(TG_USER, before + 1, timeout=PHOTO_WAIT))[before:]
    assert "Проверьте данные чека" in confirm.text


async def test_a_vk_scan_is_confirmed_in_the_persons_dialog(launch: Launch, emulators: Any) -> None:
    platform = await launch()
    vk = VkUser(emulators[1], VK_USER)
    await vk.register()
    (ask,) = await vk.says("/receipt")
    (app,) = [a for a in vk_buttons(ask) if a["type"] == "open_app"]
    assert (app["app_id"], app["owner_id"], app["label"], app["hash"]) == (
        VK_APP_ID, -emulators[1].group_id, SCAN_LABEL, "scan")
    opened = emulators[1].open_app(VK_USER, VK_APP_ID, app["hash"])
    assert opened.startswith(f"{platform.web_url}/scan/vk?")
    before = emulators[1].outbox.count(VK_USER)
    status, _ = await post(platform, "/scan/vk/text", json={"launch": urlsplit(opened).query, "text": fiscal()})
    assert status == 200
    (confirm,) = (await emulators[1].wait_for_messages(VK_USER, before + 1))[before:]
    assert "Проверьте данные чека" in confirm.text


async def test_someone_elses_launch_answers_in_their_chat_and_a_forged_one_nowhere(launch: Launch,
                                                                                   emulators: Any) -> None:
    platform = await launch()
    tg = TgUser(emulators[0], TG_USER)
    url = web_app_of(await telegram_asks_for_a_receipt(tg))
    assert url is not None
    genuine = init_data_in(emulators[0].open_web_app(TG_USER, url))
    forged = genuine.replace(f"%22id%22%3A{TG_USER}", f"%22id%22%3A{TG_OTHER}")
    assert forged != genuine
    before = emulators[0].outbox.count(TG_USER)
    status, answer = await post(platform, "/scan/telegram/text", json={"launch": forged, "text": fiscal()})
    assert (status, answer) == (401, {"error": "forged"})
    stale = init_data_in(emulators[0].open_web_app(TG_USER, url, auth_date=1_700_000_000))
    status, answer = await post(platform, "/scan/telegram/text", json={"launch": stale, "text": fiscal()})
    assert (status, answer) == (401, {"error": "expired"})
    assert emulators[0].messages_to(TG_OTHER) == [] and emulators[0].outbox.count(TG_USER) == before


@pytest.mark.parametrize(("public", "over_http", "vk_app"), [(False, True, True), (True, False, False)])
async def test_the_button_is_offered_only_where_it_runs(launch: Launch, emulators: Any, public: bool,
                                                        over_http: bool, vk_app: bool) -> None:
    """No public web app: no button anywhere, no page. An http address Telegram would refuse (the whole message
    with it), or a VK app not set up: no button there."""
    platform = await launch(public=public, over_http=over_http, vk_app=vk_app)
    tg, vk = TgUser(emulators[0], TG_USER), VkUser(emulators[1], VK_USER)
    assert web_app_of(await telegram_asks_for_a_receipt(tg)) is None
    await vk.register()
    (ask,) = await vk.says("/receipt")
    assert [a["type"] for a in vk_buttons(ask)] == ["text"]
    async with aiohttp.ClientSession() as http, http.get(f"{platform.web_url}/scan/telegram") as page:
        assert page.status == 404


# the site's own chat -------------------------------------------------------------------------------


class WebChatUser:
    """A browser in the web chat, over HTTP: its cookie is its account."""

    def __init__(self, platform: Platform, http: aiohttp.ClientSession) -> None:
        self.url, self.http = platform.web_url, http

    async def open(self) -> str:
        async with self.http.get(f"{self.url}/chat") as page:
            assert page.status == 200
        (cookie,) = [c for c in self.http.cookie_jar if c.key == "webchat"]
        return cookie.value

    async def messages(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/chat/messages") as answer:
            return list((await answer.json())["messages"])

    async def send(self, expect: str, **body: str) -> dict[str, Any]:
        """Send ``text`` or ``payload``; the first new message of ours containing ``expect``."""
        seen = len(await self.messages())
        async with self.http.post(f"{self.url}/chat/send", json=body,
                                  headers={"X-Requested-With": "webchat"}) as answer:
            assert answer.status == 200, await answer.text()
        return await self.reply(expect, seen)

    async def reply(self, expect: str, seen: int, timeout: float = 10.0) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((m for m in (await self.messages())[seen:] if m["from"] == "us" and expect in m["text"]),
                        None)

        return await eventually(found, timeout)

    async def register(self) -> None:
        await self.send("согласие", text="/start")
        await self.send("имя", payload="consent:yes")
        await self.send("телефон", text="Вера")
        await self.send("E-mail", text="+7 900 555-44-33")
        await self.send("зарегистрированы", payload="email:skip")


def scanner_link(message: dict[str, Any]) -> str:
    (link,) = [b["url"] for row in message["buttons"] for b in row if b["label"] == SCAN_LABEL]
    return str(link)


async def test_the_web_chat_links_to_the_scanner_page_and_answers_its_scan(launch: Launch) -> None:
    platform = await launch(public=False)  # the web chat is the site itself: its scanner needs no public address
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies of an IP address
        browser = WebChatUser(platform, http)
        await browser.open()
        await browser.register()
        ask = await browser.send("Пришлите фото чека", text="/receipt")
        link = scanner_link(ask)
        assert link.startswith("/scan/web#")
        seen = len(await browser.messages())
        status, _ = await post(platform, "/scan/web/text", json={"launch": link.split("#", 1)[1], "text": fiscal()})
        assert status == 200
        confirm = await browser.reply("Проверьте данные чека", seen)
        assert "ФД: 48213" in confirm["text"]
        forged = link.split("#", 1)[1].replace(".", ".9", 1)
        status, answer = await post(platform, "/scan/web/text", json={"launch": forged, "text": fiscal()})
        assert (status, answer) == (401, {"error": "forged"})
