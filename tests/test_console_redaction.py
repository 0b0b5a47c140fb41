"""Support sees no whole phone or e-mail anywhere: the person page, its timeline, the ticket page, the JSON export
— whatever the person typed, in any common format, and whatever the bot repeated back. Admins see them whole."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from core.events import InboundEvent, OutgoingMessage
from core.support import tickets as support
from core.support.redaction import redact_document, redact_text
from tests.test_console import PASSWORD, console_client

PHONE_DIGITS = "9161234567"
EMAIL = "anna.petrova@mail.ru"
TYPED = ["мой номер +7 916 123-45-67", "или 89161234567", "+79161234567", "8 (916) 123-45-67, звоните",
         f"почта {EMAIL}", "7-916-123-45-67"]


@pytest.fixture
async def client(store, clock):
    http = await console_client(store, clock)
    yield http
    await http.close()


async def _person(store, clock) -> tuple[int, int]:
    async with store.transaction() as tx:
        person = await tx.people.create("ru", clock())
        person.name, person.phone, person.email = "Анна", "+79161234567", EMAIL
        await tx.people.save(person)
        await tx.people.add_account(person.id, "telegram", "1001", "Анна", clock())
        for text in TYPED:
            await tx.messages.log_inbound(person.id, InboundEvent.from_text("telegram", "1001", text), clock())
        tx.messages.enqueue(OutgoingMessage(person.id, "registration.done", {
            "name": "Анна", "shown_phone": "+7 916 123-45-67", "kept_receipt": ""}, channel="telegram",
            account_id="1001"), clock())
        tx.messages.enqueue(OutgoingMessage(person.id, "profile.card", {
            "name": "Анна", "phone": "+79161234567", "email": EMAIL, "channels": "Telegram", "registered": "сегодня"},
            channel="telegram", account_id="1001"), clock())
        ticket = await support.open_ticket(tx, person.id, "promo", "telegram", "1001",
                                           "Не пришёл кешбэк, мой телефон 8 916 123 45 67", clock())
    return person.id, ticket.id


async def _sign_in(http: TestClient, name: str) -> None:
    answer = await http.post("/console/login", data={"username": name, "password": PASSWORD}, allow_redirects=False)
    assert answer.status == 302


def _leaks(text: str) -> list[str]:
    found = []
    if PHONE_DIGITS in re.sub(r"\D", "", text):  # every format written with any separators
        found.append("phone")
    if EMAIL in text or "anna.petrova" in text:
        found.append("email")
    return found


async def test_support_sees_no_whole_phone_or_email_on_any_page_or_export(client: TestClient, store, clock) -> None:
    person_id, ticket_id = await _person(store, clock)
    await _sign_in(client, "olga")
    pages = {path: await (await client.get(path)).text() for path in (
        "/console/tickets", "/console/tickets?status=new", f"/console/people/{person_id}",
        f"/console/tickets/{ticket_id}", f"/console/people/{person_id}/export")}
    assert "Телефон: +7916***67" in pages[f"/console/tickets/{ticket_id}"]  # the bot's words, masked, still there
    assert "a***@mail.ru" in pages[f"/console/people/{person_id}"]
    assert {path: _leaks(text) for path, text in pages.items()} == {path: [] for path in pages}


async def test_admins_see_them_whole(client: TestClient, store, clock) -> None:
    person_id, ticket_id = await _person(store, clock)
    await _sign_in(client, "admin")
    for path in (f"/console/people/{person_id}", f"/console/tickets/{ticket_id}",
                 f"/console/people/{person_id}/export"):
        assert _leaks(await (await client.get(path)).text()) == ["phone", "email"], path


def test_the_rule_masks_every_common_format_and_leaves_other_numbers_alone() -> None:
    assert redact_text("+7 916 123-45-67") == "+7916***67"
    assert redact_text("звоните 89161234567!") == "звоните 8916***67!"
    assert redact_text("8 (916) 123-45-67") == "8916***67"
    assert redact_text("+44 20 7946 0958") == "+44207***58"
    assert redact_text("пишите на anna@example.ru") == "пишите на a***@example.ru"
    kept = "ФН 9999078900004792, ФД 12345, сумма 1 234,56 ₽, чек №89161, 23.11.2026 09:00"
    assert redact_text(kept) == kept
    assert redact_document({"phone": "79161234567", "notes": ["тел. +79161234567"], "id": 5}) == {
        "phone": "7916***67", "notes": ["тел. +7916***67"], "id": 5}
