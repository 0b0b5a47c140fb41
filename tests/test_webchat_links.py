"""The bot's signed web chat link is used once: a copy (seen over a shoulder, forwarded) signs no second browser in
within its 15 minutes, and a GET of it — a messenger's link preview fetches it before the person taps — signs
nobody in: the page hands the token back from the fragment."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from core.engine import Engine
from tests.chat import Chat
from tests.platform import eventually, platform_settings, point_channels_at, started
from tests.test_bots_e2e import TG_USER, _register_in_telegram
from tests.test_scanner_e2e import free_port
from tests.test_webchat import WEBCHAT, site_engine  # noqa: F401  (the fixture)


async def test_a_link_signs_one_browser_in_and_a_copy_of_it_nobody(site_engine: Engine, store) -> None:  # noqa: F811
    telegram = Chat.telegram(site_engine, "1001")
    mine, theirs = Chat(site_engine, WEBCHAT, "browser-1"), Chat(site_engine, WEBCHAT, "browser-2")
    await telegram.register(name="Анна Петрова")
    await telegram.send("/chat")
    token = str(telegram.param("url")).split("t=", 1)[1]
    assert await mine.send(f"/chat_login {token}") == ["webchat.signed_in"]
    assert await mine.send(f"/chat_login {token}") == ["webchat.signed_in"]  # the same browser again: no harm
    assert await theirs.send(f"/chat_login {token}") == ["webchat.link_used"]
    async with store.transaction() as tx:
        anna = (await tx.people.find_by_account("telegram", "1001"))[1].id
        assert (await tx.people.find_by_account(WEBCHAT, "browser-1"))[1].id == anna
        assert (await tx.people.find_by_account(WEBCHAT, "browser-2"))[1].id != anna
    await telegram.send("/chat")  # a new link works for a new browser
    fresh = str(telegram.param("url")).split("t=", 1)[1]
    assert await theirs.send(f"/chat_login {fresh}") == ["webchat.signed_in"]


@pytest.fixture
async def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulators):
    port = free_port()
    point_channels_at(monkeypatch, *emulators, PUBLIC_URL=f"http://127.0.0.1:{port}", WEBCHAT_ENABLED="true")
    running = await started(platform_settings(tmp_path, web_port=port), emulators[1])
    yield running
    await running.stop()


async def test_opening_the_link_signs_nobody_in_until_the_page_hands_it_back(platform, emulators) -> None:
    telegram = emulators[0]
    await _register_in_telegram(telegram)
    count = len(telegram.messages_to(TG_USER))
    await telegram.user_text(TG_USER, "/chat")
    link = (await telegram.wait_for_messages(TG_USER, count + 1))[-1].reply_markup["inline_keyboard"][0][0]["url"]
    token = link.split("t=", 1)[1]  # what a link preview does: GET, no script
    async with aiohttp.ClientSession() as preview, preview.get(link, allow_redirects=False) as answer:
        assert answer.status == 302 and answer.headers["Location"] == f"/chat#t={token}"
    async with platform.store.transaction() as tx:
        accounts = await tx.people.accounts_of((await tx.people.find_by_account("telegram", str(TG_USER)))[1].id)
    assert WEBCHAT not in {a.channel for a in accounts}  # the GET joined nobody to the person
    # the person's browser (cookies of an IP address kept): the page's script posts the token from the fragment
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(link) as page:
            assert page.status == 200
        async with browser.post(f"{platform.web_url}/chat/send", json={"text": f"/chat_login {token}"},
                                headers={"X-Requested-With": "webchat"}) as sent:
            assert sent.status == 200

        async def signed_in() -> bool:
            async with browser.get(f"{platform.web_url}/chat/messages") as answer:
                return any("Вы вошли" in m["text"] for m in (await answer.json())["messages"])

        assert await eventually(signed_in)
