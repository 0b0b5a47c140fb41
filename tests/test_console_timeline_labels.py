"""Issue 25 §2.5: the timeline shows a button press as the label the person pressed, not its internal code.

A press is stored as its payload (``[button support:skip]``, ``/link_approve 7``); the console finds the label on
the message the bot had sent before it (else in the templates, else "button <payload>"), keeps the code in a
``title`` for staff who debug, and masks and escapes the label like every other text support reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.web.console.auth import hash_password
from core.events import InboundEvent, OutgoingMessage
from core.ports.staff import StaffRole
from core.support import tickets as support
from run import Platform
from tests.platform import Launch, link_code_in
from tests.test_console import PASSWORD, XSS, console_client
from tests.test_journey_e2e import TG_USER, VK_USER, TgUser, VkUser, person_of, tg_buttons


def timeline_of(page: str) -> str:
    found = re.search(r'<ol class="timeline">.*?</ol>', page, re.DOTALL)
    assert found, page
    return found.group(0)


def without_titles(html: str) -> str:
    """What staff read: the timeline without its hover titles (where the codes are kept)."""
    return re.sub(r' title="[^"]*"', "", html)


async def _pages_as_support(platform: Platform, paths: list[str]) -> dict[str, str]:
    """Signed in to the running platform's console as a support agent, as staff do."""
    async with platform.store.transaction() as tx:
        await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, hash_password(PASSWORD), datetime.now(UTC))
    async with aiohttp.ClientSession(platform.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        signed_in = await http.post("/console/login", data={"username": "olga", "password": PASSWORD},
                                    allow_redirects=False)
        assert signed_in.status == 302, await signed_in.text()
        pages = {}
        for path in paths:
            answer = await http.get(f"/console{path}")
            assert answer.status == 200, path
            pages[path] = await answer.text()
    return pages


@pytest.fixture
async def platform(launch: Launch) -> Platform:
    return await launch()


async def test_a_telegram_press_shows_its_label_on_the_ticket_and_person_pages(
        platform: Platform, emulators: tuple[TelegramEmulator, VkEmulator]) -> None:
    tg = TgUser(emulators[0], TG_USER)
    await tg.register()  # presses "✅ Согласен" and "Пропустить" (the e-mail)
    await tg.says("/support")
    await tg.says("Не пришёл кешбэк")
    await tg.presses("support:skip")  # "Без фото"
    person = await person_of(platform, "telegram", TG_USER)
    async with platform.store.transaction() as tx:
        (ticket,) = await tx.tickets.of_person(person.id)
    pages = await _pages_as_support(platform, [f"/tickets/{ticket.id}", f"/people/{person.id}"])
    for path, page in pages.items():
        timeline = timeline_of(page)
        shown = without_titles(timeline)
        for label in ("Без фото", "✅ Согласен", "Пропустить"):
            assert label in shown, (path, label)
        assert "[button" not in shown and "support:skip" not in shown and "consent:yes" not in shown, path
        assert 'title="[button support:skip]"' in timeline, path  # the code is kept for debugging


async def test_an_approval_pressed_as_a_command_shows_the_buttons_label(
        platform: Platform, emulators: tuple[TelegramEmulator, VkEmulator]) -> None:
    tg, vk = TgUser(emulators[0], TG_USER), VkUser(emulators[1], VK_USER)
    vk.api.set_user(VK_USER, "Пётр", "Иванов")
    await tg.register(name="Анна Петрова")
    (issued,) = await tg.says("/link")
    asked_before = len(tg.messages)
    await vk.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    approve = tg_buttons(asked)[0]["callback_data"]
    assert approve.startswith("/link_approve ")
    await tg.presses(approve)
    owner = await person_of(platform, "telegram", TG_USER)
    shown_page = (await _pages_as_support(platform, [f"/people/{owner.id}"]))[f"/people/{owner.id}"]
    timeline = timeline_of(shown_page)
    assert "Да, это я" in without_titles(timeline)
    assert "/link_approve" not in without_titles(timeline)
    assert f'title="{approve}"' in timeline


# presses the page cannot find the message of ----------------------------------------------------------------


@pytest.fixture
async def http(store, clock):
    client = await console_client(store, clock)
    yield client
    await client.close()


async def _sign_in(http: TestClient, name: str) -> None:
    answer = await http.post("/console/login", data={"username": name, "password": PASSWORD}, allow_redirects=False)
    assert answer.status == 302


async def _person_pressing(store, clock, payloads: list[str], typed: Sequence[str] = (),
                           before: OutgoingMessage | None = None) -> tuple[int, int]:
    async with store.transaction() as tx:
        person = await tx.people.create("ru", clock())
        await tx.people.add_account(person.id, "telegram", "1001", "Анна", clock())
        if before is not None:
            tx.messages.enqueue(OutgoingMessage(person.id, before.template, before.params, channel="telegram",
                                                account_id="1001"), clock())
        clock.advance(seconds=1)
        for payload in payloads:
            await tx.messages.log_inbound(person.id, InboundEvent.button("telegram", "1001", payload), clock())
        for text in typed:
            await tx.messages.log_inbound(person.id, InboundEvent.from_text("telegram", "1001", text), clock())
        ticket = await support.open_ticket(tx, person.id, "promo", "telegram", "1001", "Помогите", clock())
    return person.id, ticket.id


async def test_a_press_without_its_message_takes_a_templates_label_or_names_the_button(http: TestClient, store,
                                                                                       clock) -> None:
    person_id, ticket_id = await _person_pressing(store, clock, ["support:norate", "support:rate:7:5",
                                                                 "mystery:thing"], typed=["/link_approve 3"])
    await _sign_in(http, "olga")
    for path in (f"/console/people/{person_id}", f"/console/tickets/{ticket_id}"):
        timeline = timeline_of(await (await http.get(path)).text())
        texts = re.findall(r'<div class="text"(?: title="([^"]*)")?>(.*?)</div>', timeline, re.DOTALL)
        assert ("[button support:norate]", "Пропустить") in texts, texts
        assert ("[button support:rate:7:5]", "5 ⭐") in texts, texts
        assert ("[button mystery:thing]", "кнопка mystery:thing") in texts, texts
        assert ("", "/link_approve 3") in texts, texts  # typed, and no message offered it: shown as typed
        assert all(text.strip() for _, text in texts), texts


async def test_a_label_made_of_what_the_person_typed_is_masked_and_escaped(http: TestClient, store,
                                                                           clock) -> None:
    asked = OutgoingMessage(0, "registration.ask_name", {"given_name": f"+7 916 123-45-67 {XSS}"})
    person_id, _ = await _person_pressing(store, clock, ["name:given"], before=asked)
    await _sign_in(http, "olga")
    timeline = timeline_of(await (await http.get(f"/console/people/{person_id}")).text())
    (pressed,) = re.findall(r'<div class="text" title="\[button name:given\]">(.*?)</div>', timeline, re.DOTALL)
    assert pressed.startswith("+7916***67 "), pressed
    assert "&lt;script&gt;" in pressed and "<script" not in timeline, pressed
    await _sign_in(http, "admin")
    timeline = timeline_of(await (await http.get(f"/console/people/{person_id}")).text())
    assert '<div class="text" title="[button name:given]">+7 916 123-45-67 &lt;script&gt;' in timeline
