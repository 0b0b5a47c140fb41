"""Issue 25 §2, the ticket flow, through the real aiogram and vkbottle bots over HTTP against our emulators, and
the staff console over HTTP on the running platform.

A photo with a caption as a ticket's first message keeps both (it was refused and thrown away); staff reopening
a closed ticket in the console tell the person, and the person's next message joins it (it went to the menu).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import aiohttp
import pytest
from PIL import Image

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.web.console.auth import hash_password
from core.ports.staff import StaffRole
from core.ports.tickets import Ticket, TicketEventKind, TicketStatus
from run import Platform
from tests.platform import Launch
from tests.test_journey_e2e import PHOTO_WAIT, TG_USER, VK_USER, TgUser, VkUser, person_of

PASSWORD = "correct horse battery"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
async def platform(launch: Launch) -> Platform:
    return await launch()


@pytest.fixture
def tg(emulators: tuple[TelegramEmulator, VkEmulator]) -> TgUser:
    return TgUser(emulators[0], TG_USER)


@pytest.fixture
def vk(emulators: tuple[TelegramEmulator, VkEmulator]) -> VkUser:
    return VkUser(emulators[1], VK_USER)


async def _only_ticket(platform: Platform, channel: str, user: int) -> Ticket:
    person = await person_of(platform, channel, user)
    async with platform.store.transaction() as tx:
        (ticket,) = await tx.tickets.of_person(person.id)
    return ticket


async def _ticket_has_both(platform: Platform, ticket: Ticket, caption: str) -> None:
    assert ticket.subject == caption
    async with platform.store.transaction() as tx:
        (opened,) = await tx.tickets.events(ticket.id)
        assert opened.kind is TicketEventKind.PERSON and opened.body == caption
        assert opened.photo_sha256 is not None
        assert await tx.photos.get(ticket.person_id, opened.photo_sha256) == _png()


# 3. a photo with a caption as the first message -----------------------------------------------------


async def test_a_telegram_photo_with_a_caption_opens_the_ticket_with_both(platform: Platform, tg: TgUser) -> None:
    await tg.register()
    await tg.says("/support")
    before = tg.api.outbox.count(tg.id)
    await tg.api.user_photo(tg.id, _png(), caption="Кешбэк не пришёл, вот экран")
    added, opened = (await tg.api.wait_for_messages(tg.id, before + 2, timeout=PHOTO_WAIT))[before:before + 2]
    assert "Фото добавлено к обращению" in added.text, added.text
    assert "открыто" in opened.text, opened.text
    await _ticket_has_both(platform, await _only_ticket(platform, "telegram", TG_USER), "Кешбэк не пришёл, вот экран")


async def test_a_vk_photo_with_a_caption_opens_the_ticket_with_both(platform: Platform, vk: VkUser) -> None:
    await vk.register()
    await vk.says("/support")
    before = vk.api.outbox.count(vk.id)
    await vk.api.user_photo(vk.id, _png(), text="Не вижу свой чек")
    added, opened = (await vk.api.wait_for_messages(vk.id, before + 2, timeout=PHOTO_WAIT))[before:before + 2]
    assert "Фото добавлено к обращению" in added.text, added.text
    assert "открыто" in opened.text, opened.text
    await _ticket_has_both(platform, await _only_ticket(platform, "vk", VK_USER), "Не вижу свой чек")


# 2. staff reopen a closed ticket in the console -----------------------------------------------------


async def _console_sets_status(platform: Platform, ticket_id: int, status: TicketStatus) -> None:
    """As an agent does it: sign in to the running platform's console, then the ticket page's status form."""
    async with platform.store.transaction() as tx:
        await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, hash_password(PASSWORD), datetime.now(UTC))
    async with aiohttp.ClientSession(platform.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # an IP
        signed_in = await http.post("/console/login", data={"username": "olga", "password": PASSWORD},
                                    allow_redirects=False)
        assert signed_in.status == 302, await signed_in.text()
        page = await http.get(f"/console/tickets/{ticket_id}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert csrf is not None
        changed = await http.post(f"/console/tickets/{ticket_id}/status",
                                  data={"csrf": csrf.group(1), "status": status.value}, allow_redirects=False)
        assert changed.status == 302, await changed.text()


async def test_a_ticket_staff_reopen_tells_the_telegram_user_and_takes_their_next_message(
        platform: Platform, tg: TgUser) -> None:
    await tg.register()
    await tg.says("/support")
    await tg.says("Не пришёл кешбэк")
    await tg.presses("support:skip")
    await tg.presses("support:close")
    await tg.presses(f"support:rate:{(await _only_ticket(platform, 'telegram', TG_USER)).id}:3")
    ticket = await _only_ticket(platform, "telegram", TG_USER)
    assert ticket.status is TicketStatus.CLOSED

    before = tg.api.outbox.count(tg.id)
    await _console_sets_status(platform, ticket.id, TicketStatus.OPEN)
    (told,) = (await tg.api.wait_for_messages(tg.id, before + 1))[before:]
    assert f"снова открыла обращение №{ticket.id}" in told.text, told.text

    (joined,) = await tg.says("Кешбэк так и не пришёл")
    assert f"Добавили к обращению №{ticket.id}" in joined.text, joined.text  # it used to answer with the menu
    async with platform.store.transaction() as tx:
        bodies = [e.body for e in await tx.tickets.events(ticket.id) if e.kind is TicketEventKind.PERSON]
        assert len(await tx.tickets.of_person(ticket.person_id)) == 1  # no new ticket opened for it
    assert bodies[-1] == "Кешбэк так и не пришёл"


async def test_a_ticket_staff_reopen_tells_the_vk_user_and_takes_their_next_message(
        platform: Platform, vk: VkUser) -> None:
    await vk.register()
    await vk.says("/support")
    await vk.says("Где мои баллы?")
    await vk.presses("support:skip")
    await vk.presses("support:close")
    await vk.presses("support:norate")
    ticket = await _only_ticket(platform, "vk", VK_USER)
    assert ticket.status is TicketStatus.CLOSED

    before = vk.api.outbox.count(vk.id)
    await _console_sets_status(platform, ticket.id, TicketStatus.WAITING)
    (told,) = (await vk.api.wait_for_messages(vk.id, before + 1))[before:]
    assert f"снова открыла обращение №{ticket.id}" in told.text, told.text

    (joined,) = await vk.says("Баллов всё ещё нет")
    assert f"Добавили к обращению №{ticket.id}" in joined.text, joined.text
    async with platform.store.transaction() as tx:
        reopened = await tx.tickets.get(ticket.id)
        bodies = [e.body for e in await tx.tickets.events(ticket.id) if e.kind is TicketEventKind.PERSON]
    assert reopened.status is TicketStatus.OPEN and bodies[-1] == "Баллов всё ещё нет"
