"""The scanner page in headless Chromium, driven as the messengers drive it, and answered in the emulators' chats.

Telegram's client is played by a double of ``Telegram.WebApp`` put in the page before its scripts
(telegram.org's own script is blocked, so nothing replaces it), reading the launch from the address
as the real script does. VK's client is played as its Android app plays it: ``window.AndroidBridge``
answering the real vk-bridge the page loads, with ``VKWebAppEvent``s. Needs Debian's ``chromium`` and
``chromium-driver``, as tests/test_sandbox_browser.py does.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from core.settings import Settings
from tests.images import receipt_photo
from tests.platform import started
from tests.test_journey_e2e import PHOTO_WAIT, TG_USER, VK_USER, TgUser, VkUser, fiscal, vk_buttons
from tests.test_scanner_e2e import (
    SCAN_LABEL,
    VK_APP_ID,
    WebChatUser,
    launch_fixture,  # noqa: F401 (the platform, as a fixture)
    telegram_asks_for_a_receipt,
    web_app_of,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must have chromium and chromium-driver for the scanner test (.ci/run installs them)")
    pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TELEGRAM_CLIENT = """(() => {
  const hash = new URLSearchParams(location.hash.slice(1));
  const version = hash.get("tgWebAppVersion") || "6.0";
  const initData = hash.get("tgWebAppData") || "";
  const at = (v) => v.split(".").map(Number);
  const atLeast = (wanted) => { const [a, b] = at(version), [c, d] = at(wanted); return a > c || (a === c && b >= d); };
  const calls = [];
  window.__client = { calls };
  window.Telegram = { WebApp: {
    initData, initDataUnsafe: { user: JSON.parse(new URLSearchParams(initData).get("user") || "null") },
    version, platform: "android", isVersionAtLeast: atLeast,
    ready() { calls.push("ready"); }, expand() { calls.push("expand"); }, close() { calls.push("close"); },
    onEvent(name) { calls.push("onEvent:" + name); }, offEvent() {},
    showScanQrPopup(params, callback) {
      if (!atLeast("6.4")) throw new Error("WebAppMethodUnsupported");
      calls.push("showScanQrPopup");
      setTimeout(() => calls.push(callback(%(scanned)s) === true ? "popup closed" : "popup open"), 200);
    },
  } };
})();"""

VK_ANDROID_CLIENT = """(() => {
  const calls = [];
  window.__client = { calls };
  const answer = (type, data, json) => {
    const request = JSON.parse(json || "{}");
    setTimeout(() => window.dispatchEvent(new CustomEvent("VKWebAppEvent",
      { detail: { type, data: { ...data, request_id: request.request_id } } })), 100);
  };
  window.AndroidBridge = {
    VKWebAppInit(json) { calls.push("VKWebAppInit"); answer("VKWebAppInitResult", { result: true }, json); },
    VKWebAppOpenCodeReader(json) {
      calls.push("VKWebAppOpenCodeReader");
      answer("VKWebAppOpenCodeReaderResult", { code_data: %(scanned)s }, json);
    },
    VKWebAppClose(json) { calls.push("close"); answer("VKWebAppCloseResult", { payload: {} }, json); },
  };
})();"""


def _browser(profile: Path, client: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*telegram.org*"]})  # only the double speaks
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": client})
    return browser


def _state(browser: webdriver.Chrome) -> dict[str, Any]:
    """The page as one read (no element handle kept between polls, so none goes stale)."""
    return browser.execute_script("""
        const shown = (id) => !document.getElementById(id).hidden;
        const calls = window.__client ? window.__client.calls.slice() : [];
        return { status: document.getElementById("status").dataset.key, calls,
                 scan: shown("scan"), camera: shown("camera"), upload: shown("upload") };""")


def _drive(url: str, client: str, until: Callable[[dict[str, Any]], bool],
           act: Callable[[webdriver.Chrome], None] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as profile:
        browser = _browser(Path(profile), client)
        try:
            browser.get(url)
            wait = WebDriverWait(browser, 30)
            if act is not None:
                act(browser)
            wait.until(lambda _: until(_state(browser)))
            return _state(browser)
        finally:
            browser.quit()


def _upload_offered(photo: Path) -> Callable[[webdriver.Chrome], None]:
    """Once the page says there is no scanner here, choose ``photo`` as a person would."""

    def upload(browser: webdriver.Chrome) -> None:
        WebDriverWait(browser, 30).until(lambda _: _state(browser)["status"] == "fallback")
        assert not _state(browser)["scan"] and _state(browser)["upload"]  # no scanner on offer where none runs
        browser.find_element(By.ID, "photo").send_keys(str(photo))

    return upload


async def test_telegrams_own_scanner_reads_the_qr_and_the_chat_confirms_the_receipt(launch: Any,
                                                                                    emulators: Any) -> None:
    await launch()
    tg = TgUser(emulators[0], TG_USER)
    url = web_app_of(await telegram_asks_for_a_receipt(tg))
    assert url is not None
    opened = emulators[0].open_web_app(TG_USER, url, version="7.10")  # as a current Telegram client opens it
    before = emulators[0].outbox.count(TG_USER)
    client = TELEGRAM_CLIENT % {"scanned": json.dumps(fiscal())}
    page = await asyncio.to_thread(_drive, opened, client, lambda s: s["status"] == "sent" and "close" in s["calls"])
    assert "showScanQrPopup" in page["calls"] and "popup closed" in page["calls"] and "ready" in page["calls"]
    (confirm,) = (await emulators[0].wait_for_messages(TG_USER, before + 1))[before:]
    assert "Проверьте данные чека" in confirm.text and "ФД: 48213" in confirm.text
    (accepted,) = await tg.presses("receipt:yes")
    assert "Чек принят" in accepted.text


async def test_an_old_telegram_client_gets_a_photo_upload_that_the_photo_reader_reads(launch: Any, emulators: Any,
                                                                                     tmp_path: Path) -> None:
    await launch()
    tg = TgUser(emulators[0], TG_USER)
    url = web_app_of(await telegram_asks_for_a_receipt(tg))
    assert url is not None
    opened = emulators[0].open_web_app(TG_USER, url, version="6.2")  # before showScanQrPopup (6.4)
    photo = tmp_path / "receipt.jpg"
    photo.write_bytes(receipt_photo(fiscal(document=777)))
    client = TELEGRAM_CLIENT % {"scanned": "null"}
    before = emulators[0].outbox.count(TG_USER)
    page = await asyncio.to_thread(_drive, opened, client, lambda s: s["status"] == "sent", _upload_offered(photo))
    assert "showScanQrPopup" not in page["calls"]
    (confirm,) = (await emulators[0].wait_for_messages(TG_USER, before + 1, timeout=PHOTO_WAIT))[before:]
    assert "Проверьте данные чека" in confirm.text and "ФД: 777" in confirm.text


async def test_a_page_opened_outside_the_messenger_posts_nothing(launch: Any, emulators: Any) -> None:
    platform = await launch()
    client = TELEGRAM_CLIENT % {"scanned": json.dumps(fiscal())}
    page = await asyncio.to_thread(_drive, f"{platform.web_url}/scan/telegram", client,
                                   lambda s: s["status"] == "outside")
    assert not (page["scan"] or page["camera"] or page["upload"]) and "showScanQrPopup" not in page["calls"]


async def test_a_wrong_code_is_said_on_the_page_and_another_scan_is_offered(launch: Any, emulators: Any) -> None:
    await launch()
    tg = TgUser(emulators[0], TG_USER)
    url = web_app_of(await telegram_asks_for_a_receipt(tg))
    assert url is not None
    before = emulators[0].outbox.count(TG_USER)
    client = TELEGRAM_CLIENT % {"scanned": json.dumps("https://promo.example/pack")}
    page = await asyncio.to_thread(_drive, emulators[0].open_web_app(TG_USER, url), client,
                                   lambda s: s["status"] == "not_receipt")
    assert page["scan"] and page["upload"] and "close" not in page["calls"]
    await asyncio.sleep(0.5)
    assert emulators[0].outbox.count(TG_USER) == before  # nothing reached the chat


async def test_vks_code_reader_reads_the_qr_and_the_dialog_confirms_the_receipt(launch: Any, emulators: Any) -> None:
    platform = await launch()
    vk = VkUser(emulators[1], VK_USER)
    await vk.register()
    (ask,) = await vk.says("/receipt")
    (app,) = [a for a in vk_buttons(ask) if a["type"] == "open_app"]
    opened = emulators[1].open_app(VK_USER, VK_APP_ID, app["hash"])
    assert urlsplit(opened).path == "/scan/vk" and opened.startswith(platform.web_url)
    before = emulators[1].outbox.count(VK_USER)
    client = VK_ANDROID_CLIENT % {"scanned": json.dumps(fiscal(document=4242))}
    page = await asyncio.to_thread(_drive, opened, client, lambda s: s["status"] == "sent" and "close" in s["calls"])
    assert page["calls"][:2] == ["VKWebAppInit", "VKWebAppOpenCodeReader"]
    (confirm,) = (await emulators[1].wait_for_messages(VK_USER, before + 1))[before:]
    assert "Проверьте данные чека" in confirm.text and "ФД: 4242" in confirm.text


def _web_chat_scan(url: str, cookie: str, photo: Path) -> str:
    """In the web chat, press «📷 Сканировать QR», choose a photo on the page it opens; the chat's text after."""
    with tempfile.TemporaryDirectory() as profile:
        browser = _browser(Path(profile), "")
        try:
            wait = WebDriverWait(browser, 30)
            browser.get(f"{url}/rules")  # on the site first: a cookie is set for the page's own host
            browser.add_cookie({"name": "webchat", "value": cookie, "path": "/chat", "httpOnly": True})
            browser.get(f"{url}/chat")
            link = wait.until(lambda b: b.find_elements(By.XPATH, f"(//a[contains(., '{SCAN_LABEL}')])[last()]"))
            link[0].click()
            wait.until(lambda b: b.execute_script("return location.pathname") == "/scan/web"
                       and _state(b)["status"] == "fallback")
            page = _state(browser)
            assert page["upload"] and not page["scan"]
            browser.find_element(By.ID, "photo").send_keys(str(photo))
            wait.until(lambda b: b.execute_script("return location.pathname") == "/chat")  # sent: back to the chat
            wait.until(lambda b: "Проверьте данные чека" in b.execute_script(
                "return document.getElementById('log').innerText"))
            return str(browser.execute_script("return document.getElementById('log').innerText"))
        finally:
            browser.quit()


async def test_the_web_chat_scans_a_photo_on_the_page_and_confirms_it_in_the_chat(launch: Any,
                                                                                  tmp_path: Path) -> None:
    platform = await launch(public=False)
    photo = tmp_path / "receipt.jpg"
    photo.write_bytes(receipt_photo(fiscal(document=31337)))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = WebChatUser(platform, http)
        cookie = await person.open()
        await person.register()
        await person.send("Пришлите фото чека", text="/receipt")
        log = await asyncio.to_thread(_web_chat_scan, platform.web_url, cookie, photo)
    assert "ФД: 31337" in log


@pytest.mark.parametrize("channel", ["telegram", "vk"])
async def test_the_sandboxs_scan_button_opens_the_page_as_an_old_client_would(tmp_path: Path, channel: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No double at all: telegram.org's script is blocked and vk-bridge finds no VK around it; the page reads the
    launch from its address, as Telegram's script does and VK puts it; the button, pressed on the sandbox page, is
    signed at that moment by the emulator. A browser tab has no scanner: a photo it is."""
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
                        web_port=0, sandbox=True, photo_workers=1)
    platform = await started(settings)
    assert platform.sandbox is not None
    try:
        emulator = platform.sandbox.emulator(channel)
        if channel == "vk":
            await asyncio.wait_for(emulator.polling.wait(), 10)
            user: TgUser | VkUser = VkUser(emulator, VK_USER)
            await user.register()
            await user.says("/receipt")
        else:
            user = TgUser(emulator, TG_USER)
            await telegram_asks_for_a_receipt(user)
        chat = platform.sandbox.twins[channel].chat
        assert chat is not None
        (button,) = [b for row in chat.shown(user.id)[-1]["buttons"] for b in row if b.get("web_app")]
        assert button["label"] == SCAN_LABEL and button["url"].startswith(emulator.base_url)
        photo = tmp_path / "receipt.jpg"
        photo.write_bytes(receipt_photo(fiscal(document=555)))
        before = emulator.outbox.count(user.id)
        await asyncio.to_thread(_drive, button["url"], "", lambda s: s["status"] == "sent", _upload_offered(photo))
        (confirm,) = (await emulator.wait_for_messages(user.id, before + 1, timeout=PHOTO_WAIT))[before:]
        assert "ФД: 555" in confirm.text
    finally:
        await platform.stop()
