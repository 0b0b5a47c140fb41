"""The staff console and the web chat in headless Chromium, against the whole platform and the Telegram emulator.

Staff sign in, answer a ticket (the person gets it in Telegram), moderate a flagged receipt (the
person is told), undo a merge (both balances back as they were); a support user cannot open manager
pages; a form without the CSRF token is refused; a consumer's HTML is shown as text; a person uses
the web chat. The ticket page, the moderation page and the dashboard are saved as pictures: to a temporary
folder, or to the README's docs/screenshots with ``REFRESH_SCREENSHOTS=1`` (a test never changes tracked files).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must have chromium and chromium-driver for the browser tests (.ci/run installs them)")
    pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from bots.emulators.telegram_api import TelegramEmulator  # noqa: E402
from bots.web.console.auth import hash_password  # noqa: E402
from core.channels import ChannelName  # noqa: E402
from core.merging import merge_persons  # noqa: E402
from core.ports import ReceiptStatus  # noqa: E402
from core.ports.staff import StaffRole  # noqa: E402
from promo import ledger  # noqa: E402
from promo.campaigns import Award  # noqa: E402
from tests.contract.test_receipts import fiscal  # noqa: E402
from tests.platform import eventually, platform_settings, point_channels_at, started  # noqa: E402

SCREENSHOTS = (Path(__file__).parents[1] / "docs" / "screenshots" if os.environ.get("REFRESH_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "promo-screenshots")
PASSWORD = "correct horse battery"
PAYLOAD = '<script>document.title="owned"</script><b onmouseover=alert(1)>жирный</b>'


@pytest.fixture
async def platform(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    telegram = TelegramEmulator()
    await telegram.start()
    point_channels_at(monkeypatch, telegram, None, WEBCHAT_ENABLED="true")
    running = await started(platform_settings(tmp_path))
    async with running.store.transaction() as tx:
        for name, role in (("admin", StaffRole.ADMIN), ("olga", StaffRole.SUPPORT), ("ivan", StaffRole.MANAGER)):
            await tx.staff.add_user(name, {"admin": "Админ", "olga": "Ольга", "ivan": "Иван"}[name], role,
                                    hash_password(PASSWORD), running.engine.clock())
    running.telegram = telegram  # type: ignore[attr-defined]
    yield running
    await running.stop()
    await telegram.stop()


async def _say(telegram: TelegramEmulator, user: int, text: str | None = None, press: str | None = None) -> str:
    count = len(telegram.messages_to(user))
    if press is not None:
        await telegram.user_press(user, press)
    else:
        await telegram.user_text(user, text or "")
    return (await telegram.wait_for_messages(user, count + 1))[-1].text


async def _register(telegram: TelegramEmulator, user: int, phone: str) -> None:
    await _say(telegram, user, "/start")
    await _say(telegram, user, press="consent:yes")
    await _say(telegram, user, "Анна Петрова")
    await telegram.user_contact(user, phone)
    await telegram.wait_for_messages(user, 4)
    await _say(telegram, user, press="email:skip")


async def _person(platform: Any, user: int) -> int:
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(ChannelName("telegram"), str(user))
    assert found is not None
    return found[1].id


def _browse(url: str, steps: Callable[[webdriver.Chrome, WebDriverWait], Any]) -> Any:
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM  # type: ignore[assignment]
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            browser.get(url)
            return steps(browser, WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,
                                                                                NoSuchElementException)))
        finally:
            browser.quit()


def _text(browser: webdriver.Chrome, css: str) -> str:
    """The element's text in one script call: no node handle that a reload can orphan between two calls."""
    return browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css) or ""


def _value(browser: webdriver.Chrome, css: str) -> str:
    return browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.value : '';", css) or ""


def _sign_in(browser: webdriver.Chrome, wait: WebDriverWait, url: str, name: str) -> None:
    browser.get(f"{url}/console/login")
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait.until(lambda b: "/login" not in b.current_url)


def _shoot(browser: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(max(int(height) + 40, 900), 2400))
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


async def test_support_answers_a_ticket_the_person_reads_it_in_telegram_and_their_html_stays_text(platform) -> None:
    telegram, url = platform.telegram, platform.web_url
    await _register(telegram, 1001, "+79123456789")
    await _say(telegram, 1001, "/support")
    await _say(telegram, 1001, PAYLOAD)
    await _say(telegram, 1001, press="support:skip")
    await _say(telegram, 1001, "Чек от 12 ноября, сумма 1 250 ₽")

    def steps(browser: webdriver.Chrome, wait: WebDriverWait) -> dict[str, Any]:
        _sign_in(browser, wait, url, "olga")
        browser.find_element(By.CSS_SELECTOR, "table.queue tbody a").click()
        wait.until(lambda b: "/console/tickets/" in b.current_url)
        thread = browser.find_element(By.CSS_SELECTOR, "ol.thread").text
        seen = {"payload_as_text": PAYLOAD in thread, "title": browser.title,
                "bold_tags": len(browser.find_elements(By.CSS_SELECTOR, "ol.thread b"))}
        browser.find_element(By.CSS_SELECTOR, "form.canned select option[value='received']").click()
        browser.find_element(By.CSS_SELECTOR, "form.canned button").click()
        wait.until(lambda b: "обращение №" in _value(b, "[name=text]"))
        field = browser.find_element(By.NAME, "text")
        field.clear()
        field.send_keys("Анна, проверили: кешбэк начислен, он уже в балансе.")
        _shoot(browser, "ticket")
        browser.find_element(By.CSS_SELECTOR, "form.reply button").click()
        wait.until(lambda b: "кешбэк начислен" in _text(b, "ol.thread"))
        csrf_less = browser.execute_async_script(
            "const done = arguments[0]; fetch(location.pathname + '/note', {method: 'POST', "
            "body: new URLSearchParams({text: 'no token'})}).then(r => done(r.status));")
        browser.get(f"{url}/console/dashboard")
        seen.update(csrf_less=csrf_less, dashboard=browser.find_element(By.TAG_NAME, "main").text)
        return seen

    seen = await asyncio.to_thread(_browse, url, steps)
    assert seen["payload_as_text"] and seen["title"] != "owned" and seen["bold_tags"] == 0
    assert seen["csrf_less"] == 403
    assert "Нет доступа" in seen["dashboard"]
    answer = await eventually(lambda: [m for m in telegram.messages_to(1001) if "кешбэк начислен" in m.text])
    assert "обращение №" in answer[0].text and answer[0].parse_mode == "HTML"
    async with platform.store.transaction() as tx:
        notes = [e.action for e in await tx.staff.audit_log()]
    assert "reply" in notes and "login" in notes


async def test_a_flagged_receipt_is_moderated_and_the_person_is_told(platform) -> None:
    telegram, url = platform.telegram, platform.web_url
    await _register(telegram, 1001, "+79123456789")
    await _register(telegram, 1002, "+79123456700")
    owner, other = await _person(platform, 1001), await _person(platform, 1002)
    now = platform.engine.clock()
    async with platform.store.transaction() as tx:
        receipt = await tx.receipts.add(owner, "promo", fiscal(7), "typed", ReceiptStatus.MODERATION,
                                        Award(6_250, 12, False), now, None)
        await tx.ledger.post(ledger.accrual(owner, 6_250), now, receipt_id=receipt.id)
        await tx.receipts.flag(receipt.id, other, "sent_by_another_person", now)

    def steps(browser: webdriver.Chrome, wait: WebDriverWait) -> str:
        _sign_in(browser, wait, url, "olga")
        browser.get(f"{url}/console/receipts")
        browser.find_element(By.LINK_TEXT, f"№{receipt.id}").click()
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".claim")) == 2)
        _shoot(browser, "moderation")
        browser.find_element(By.CSS_SELECTOR, "button.approve").click()
        wait.until(lambda b: "accepted" in _text(b, "h1"))
        return browser.find_element(By.TAG_NAME, "h1").text

    assert "accepted" in await asyncio.to_thread(_browse, url, steps)
    told = await eventually(lambda: [m for m in telegram.messages_to(1001) if "проверен" in m.text])
    assert "62,50 ₽" in told[0].text


async def test_undoing_a_merge_puts_both_balances_back_and_tells_both(platform) -> None:
    telegram, url = platform.telegram, platform.web_url
    await _register(telegram, 1001, "+79123456789")
    await _register(telegram, 1002, "+79123456700")
    first, second = await _person(platform, 1001), await _person(platform, 1002)
    now = platform.engine.clock()
    async with platform.store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(first, 10_000), now)
        await tx.ledger.post(ledger.accrual(second, 2_500), now)
        before = (await tx.ledger.balances(first), await tx.ledger.balances(second))
        merge = await merge_persons(tx, first, second, "link code approved by its owner", now + timedelta(seconds=1))
        assert (await tx.ledger.balances(first))[ledger.LedgerAccount.PENDING] == 12_500

    def steps(browser: webdriver.Chrome, wait: WebDriverWait) -> str:
        _sign_in(browser, wait, url, "admin")
        browser.get(f"{url}/console/people/{first}")
        assert "link code approved by its owner" in browser.find_element(By.CSS_SELECTOR, "ul.merges").text
        browser.find_element(By.CSS_SELECTOR, "button.undo").click()
        wait.until(lambda b: "разъединено" in _text(b, "ul.merges"))
        return browser.find_element(By.CSS_SELECTOR, "ul.merges").text

    assert f"#{merge.id}" in await asyncio.to_thread(_browse, url, steps)
    async with platform.store.transaction() as tx:
        assert (await tx.ledger.balances(first), await tx.ledger.balances(second)) == before
    for user in (1001, 1002):
        await eventually(lambda user=user: any("разделили" in m.text for m in telegram.messages_to(user)))


async def test_a_manager_reads_the_dashboard(platform) -> None:
    telegram, url = platform.telegram, platform.web_url
    await _register(telegram, 1001, "+79123456789")
    person = await _person(platform, 1001)
    now = platform.engine.clock()
    async with platform.store.transaction() as tx:
        for number in range(1, 15):
            status = ReceiptStatus.ACCEPTED if number % 4 else ReceiptStatus.REJECTED
            await tx.receipts.add(person, "promo", fiscal(100 + number), "photo", status, Award(500, 1, False),
                                  now - timedelta(days=number % 7, hours=number), None)

    def steps(browser: webdriver.Chrome, wait: WebDriverWait) -> int:
        _sign_in(browser, wait, url, "ivan")
        wait.until(lambda b: "/dashboard" in b.current_url)
        charts = len(browser.find_elements(By.CSS_SELECTOR, "figure.chart svg"))
        _shoot(browser, "dashboard")
        return charts

    assert await asyncio.to_thread(_browse, url, steps) == 5


async def test_a_person_opens_the_web_chat_from_the_bot_and_writes_to_support(platform) -> None:
    telegram, url = platform.telegram, platform.web_url
    await _register(telegram, 1001, "+79123456789")
    await _say(telegram, 1001, "/chat")
    link = telegram.messages_to(1001)[-1].reply_markup["inline_keyboard"][0][0]["url"]
    assert link.startswith(f"{url}/chat?t=")

    def steps(browser: webdriver.Chrome, wait: WebDriverWait) -> str:
        browser.get(link)
        wait.until(lambda b: "Вы вошли в веб-чат" in _text(b, "#log"))

        def say(text: str, expect: str) -> None:
            browser.find_element(By.ID, "text").send_keys(text)
            browser.find_element(By.CSS_SELECTOR, "form#send button").click()
            wait.until(lambda b: expect in _text(b, "#log"))

        say("/support", "Опишите")
        say("Не могу найти правила акции", "скриншот")
        browser.find_element(By.XPATH, "//div[@class='buttons']/button[contains(., 'Без фото')]").click()
        wait.until(lambda b: "открыто" in _text(b, "#log"))
        _shoot(browser, "webchat")
        return _text(browser, "#log")

    text = await asyncio.to_thread(_browse, url, steps)
    assert "Не могу найти правила акции" in text
    person = await _person(platform, 1001)
    async with platform.store.transaction() as tx:
        (ticket,) = await tx.tickets.of_person(person)
    assert ticket.channel == "webchat" and ticket.subject == "Не могу найти правила акции"
