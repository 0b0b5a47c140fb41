"""Entering the web chat: a signed link from the bot joins a fresh browser to its person; e-mail and a code do too.

The e-mail goes out as an addressed message on the e-mail channel (``channel=email``): what the
outbox does with it is the e-mail channel's business; here the code it carries is read back.
"""

from __future__ import annotations

import pytest

from bots.email import EMAIL
from core.channels import ChannelDirectory, ChannelName, ChannelProfile, TextFormat
from core.engine import Engine
from core.scenarios import catalog
from core.services import Services
from tests.chat import Chat
from tests.conftest import CHANNELS

WEBCHAT = ChannelName("webchat")


@pytest.fixture
def site_engine(store, settings, clock, photo_reader) -> Engine:
    channels = ChannelDirectory([*CHANNELS.values(), ChannelProfile(WEBCHAT, "Web chat", TextFormat.PLAIN, 4000,
                                                                  site_chat=True)],
                                known=CHANNELS.known.values())
    services = Services(settings.campaign, photo_reader, channels, "https://promo.example/rules",
                        web_url="https://promo.example")
    return Engine(store, catalog(), services, settings, clock=clock)


async def test_the_bot_gives_a_link_that_joins_a_fresh_browser_to_the_person(site_engine: Engine, store) -> None:
    telegram, browser = Chat.telegram(site_engine, "1001"), Chat(site_engine, WEBCHAT, "browser-1")
    await telegram.register(name="Анна Петрова")
    assert await telegram.send("/chat") == ["webchat.link"]
    url = str(telegram.param("url"))
    assert url.startswith("https://promo.example/chat?t=")
    token = url.split("t=", 1)[1]
    assert await telegram.send(f"/chat_login {token}") == ["webchat.only_in_chat"]  # never in a messenger
    assert await browser.send(f"/chat_login {token[:-2]}xx") == ["webchat.link_expired"]  # forged
    assert await browser.send(f"/chat_login {token}") == ["webchat.signed_in"]
    assert await browser.send("/me") == ["profile.card"] and browser.param("name") == "Анна Петрова"
    async with store.transaction() as tx:
        _, person = await tx.people.find_by_account(WEBCHAT, "browser-1")
        assert (await tx.people.find_by_account(ChannelName("telegram"), "1001"))[1].id == person.id


async def test_an_old_link_no_longer_works(site_engine: Engine, clock) -> None:
    telegram, browser = Chat.telegram(site_engine, "1001"), Chat(site_engine, WEBCHAT, "browser-1")
    await telegram.register()
    await telegram.send("/chat")
    token = str(telegram.param("url")).split("t=", 1)[1]
    clock.advance(minutes=16)
    assert await browser.send(f"/chat_login {token}") == ["webchat.link_expired"]


async def test_without_a_web_chat_the_bot_says_so(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send("/chat") == ["webchat.unavailable"]


async def test_e_mail_and_a_code_sign_a_browser_in_as_the_person_with_that_address(site_engine: Engine, store,
                                                                                   clock) -> None:
    telegram = Chat.telegram(site_engine, "1001")
    await telegram.register(name="Анна Петрова")
    async with store.transaction() as tx:
        _, person = await tx.people.find_by_account(ChannelName("telegram"), "1001")
        account = await tx.people.add_account(person.id, EMAIL, "anna@example.ru", "", clock())
        account.verified_at = clock()
        await tx.people.touch_account(account)
    browser = Chat(site_engine, WEBCHAT, "browser-2")
    assert await browser.send("/chat_email") == ["webchat.ask_email"]
    assert await browser.send("Anna@Example.ru") == ["webchat.email_code", "webchat.ask_code"]
    sent = browser.last[0]
    assert (sent.channel, sent.account_id) == (EMAIL, "anna@example.ru")
    code = str(sent.params["code"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert await browser.send(wrong) == ["webchat.wrong_code", "webchat.ask_code"] and browser.param("left") == 4
    assert await browser.send(code) == ["webchat.signed_in"]
    assert await browser.send("/me") == ["profile.card"] and browser.param("name") == "Анна Петрова"


async def test_a_new_address_becomes_the_browsers_own(site_engine: Engine, store) -> None:
    browser = Chat(site_engine, WEBCHAT, "browser-3")
    await browser.send("/chat_email")
    await browser.send("new@example.ru")
    assert await browser.send(str(browser.last[0].params["code"])) == ["webchat.signed_in"]
    async with store.transaction() as tx:
        account, person = await tx.people.find_by_account(EMAIL, "new@example.ru")
    assert person.email == "new@example.ru" and person.email_verified and account.verified_at is not None


async def test_codes_by_e_mail_are_limited_per_browser(site_engine: Engine, clock) -> None:
    browser = Chat(site_engine, WEBCHAT, "browser-4")
    for _ in range(3):
        await browser.send("/chat_email")
        assert await browser.send("flood@example.ru") == ["webchat.email_code", "webchat.ask_code"]
    await browser.send("/chat_email")
    assert await browser.send("flood@example.ru") == ["webchat.too_many_codes", "webchat.ask_email"]
    clock.advance(hours=1, minutes=1)
    assert await browser.send("flood@example.ru") == ["webchat.email_code", "webchat.ask_code"]
