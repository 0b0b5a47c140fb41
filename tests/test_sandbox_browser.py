"""The sandbox page in headless Chromium: a person registers through it, clicking and typing.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Without them
the test is skipped with that reason, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.platform import started

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must have chromium and chromium-driver for the sandbox test (.ci/run installs them)")
    pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from core.settings import Settings  # noqa: E402


def _browser(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _register_through_the_page(url: str) -> tuple[str, list[tuple[str, str]]]:
    """The summary registration ends with, and the conversation as the page shows it once reloaded."""
    with tempfile.TemporaryDirectory() as profile:
        browser = _browser(Path(profile))
        try:
            wait = WebDriverWait(browser, 20)
            browser.get(url + "/sandbox")
            chat = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "section.telegram"))
            log = chat.find_element(By.CSS_SELECTOR, ".log")
            # not a blank page, and in the bots' language: what to do first is said in every column
            hint = log.find_element(By.CSS_SELECTOR, ".hint")
            assert hint.is_displayed() and "Начать" in hint.text, hint.text
            assert chat.find_element(By.CSS_SELECTOR, "form button").text == "Отправить"
            assert "Песочница" in browser.find_element(By.TAG_NAME, "header").text

            def bot_messages() -> list:
                return log.find_elements(By.CSS_SELECTOR, ".msg.bot")

            def say(text: str) -> None:
                count = len(bot_messages())
                field = chat.find_element(By.CSS_SELECTOR, "form input")
                field.send_keys(text)
                chat.find_element(By.CSS_SELECTOR, "form button").click()
                wait.until(lambda _: len(bot_messages()) > count)

            def press(label_part: str) -> None:
                count = len(bot_messages())
                button = wait.until(expected_conditions.element_to_be_clickable(
                    (By.XPATH, f"(//section[@data-channel='telegram']//div[contains(@class,'buttons')]"
                               f"//button[contains(., '{label_part}')])[last()]")))
                button.click()
                wait.until(lambda _: len(bot_messages()) > count)

            say("/start")
            assert "согласие" in bot_messages()[-1].text
            press("Согласен")
            say("Анна Петрова")
            count = len(bot_messages())
            chat.find_element(By.ID, "telegram-phone").send_keys("+7 912 345-67-89")
            chat.find_element(By.ID, "telegram-contact").click()
            wait.until(lambda _: len(bot_messages()) > count)
            press("Пропустить")
            final = bot_messages()[-1].text
            assert not hint.is_displayed()
            before = len(log.find_elements(By.CSS_SELECTOR, ".msg"))

            browser.refresh()
            chat = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "section.telegram"))
            wait.until(lambda _: len(chat.find_elements(By.CSS_SELECTOR, ".log .msg")) >= before)
            shown = [("me" if "me" in m.get_attribute("class") else "bot", m.text.split("\n")[0])
                     for m in chat.find_elements(By.CSS_SELECTOR, ".log .msg")]
            return final, shown
        finally:
            browser.quit()


async def test_a_person_registers_through_the_sandbox_page(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
                        web_port=0, sandbox=True)
    platform = await started(settings)
    assert platform.sandbox is not None
    await asyncio.wait_for(platform.sandbox.emulator("vk").polling.wait(), 10)
    try:
        final, shown = await asyncio.to_thread(_register_through_the_page, platform.web_url)
    finally:
        await platform.stop()
    assert "вы зарегистрированы" in final and "+7 912 345-67-89" in final
    # reloaded, the page still shows what the person sent, each where it was in the conversation
    mine = [text for who, text in shown if who == "me"]
    assert mine == ["/start", "✅ Согласен", "Анна Петрова", "📱 +7 912 345-67-89", "Пропустить"], shown
    assert shown[0] == ("me", "/start") and shown[1][0] == "bot" and shown[-1][0] == "bot", shown
    assert [who for who, _ in shown[:4]] == ["me", "bot", "me", "bot"], shown
