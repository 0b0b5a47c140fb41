"""Console pages an attacker's words reach, and actions not tried elsewhere: the audit log, closing a ticket,
receipt moderation with hostile names and reasons."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from core.ports import ReceiptStatus
from core.ports.tickets import TicketStatus
from promo.campaigns import Award
from tests.contract.test_receipts import CAMPAIGN, fiscal
from tests.test_console import XSS, _login, _ticket, console_client


@pytest.fixture
async def client(store, clock):
    http = await console_client(store, clock)
    yield http
    await http.close()


def _no_raw_markup(page: str) -> None:
    assert "<script>alert" not in page and "<img src=x" not in page


async def test_the_audit_log_shows_a_strangers_made_up_name_as_text_and_only_to_admins(client: TestClient) -> None:
    await client.post("/console/login", data={"username": XSS, "password": "x"})
    csrf = await _login(client, "olga")
    assert (await client.get("/console/audit")).status == 403
    await client.post("/console/logout", data={"csrf": csrf})
    await _login(client, "admin")
    page = await (await client.get("/console/audit")).text()
    _no_raw_markup(page)
    assert "login_failed" in page and "&lt;script&gt;" in page
    target = f"staff:{XSS[:64]}"
    filtered = await client.get("/console/audit", params={"target": target})
    assert filtered.status == 200 and "login_failed" in await filtered.text()
    assert "login_failed" not in await (await client.get("/console/audit", params={"target": "ticket:1"})).text()


async def test_support_closes_a_ticket_the_person_is_asked_to_rate_and_it_is_audited(client: TestClient, store,
                                                                                     clock) -> None:
    person_id, ticket_id = await _ticket(store, clock)
    csrf = await _login(client, "olga")
    assert (await client.post(f"/console/tickets/{ticket_id}/status", data={"status": "closed"})).status == 403
    assert (await client.post(f"/console/tickets/{ticket_id}/status",
                              data={"status": "gone", "csrf": csrf})).status == 400
    assert (await client.post("/console/tickets/999999/status",
                              data={"status": "closed", "csrf": csrf})).status == 404
    done = await client.post(f"/console/tickets/{ticket_id}/status", data={"status": "closed", "csrf": csrf},
                             allow_redirects=False)
    assert done.status == 302
    again = await client.post(f"/console/tickets/{ticket_id}/status", data={"status": "closed", "csrf": csrf},
                              allow_redirects=False)
    assert again.status == 302
    async with store.transaction() as tx:
        ticket = await tx.tickets.get(ticket_id)
        told = await tx.messages.entries(person_id, template="support.closed_by_staff")
        audited = [e.action for e in await tx.staff.audit_log(target=f"ticket:{ticket_id}")]
    assert ticket.status is TicketStatus.CLOSED and ticket.closed_at is not None
    assert len(told) == 1 and told[0].account_id == "1001"  # closing twice tells the person once
    assert "status" in audited


async def test_moderation_shows_hostile_names_and_reasons_as_text(client: TestClient, store, clock) -> None:
    person_id, _ = await _ticket(store, clock)
    async with store.transaction() as tx:
        owner = await tx.people.get(person_id)
        owner.name = XSS
        await tx.people.save(owner)
        receipt = await tx.receipts.add(person_id, CAMPAIGN, fiscal(3), "photo", ReceiptStatus.MODERATION,
                                        Award(5_000, 1, False), clock(), None)
        other = await tx.people.create("ru", clock())
        other.name = XSS
        await tx.people.save(other)
        await tx.people.add_account(other.id, "vk", "2002", XSS, clock())
        await tx.receipts.flag(receipt.id, other.id, "sent_by_another_person", clock())
    csrf = await _login(client, "olga")
    for path in ("/console/receipts", f"/console/receipts/{receipt.id}"):
        _no_raw_markup(await (await client.get(path)).text())
    assert (await client.post(f"/console/receipts/{receipt.id}/reject", data={"csrf": csrf, "reason": " "})
            ).status == 400  # a rejection names its reason
    rejected = await client.post(f"/console/receipts/{receipt.id}/reject", data={"csrf": csrf, "reason": XSS})
    assert rejected.status == 200
    _no_raw_markup(await rejected.text())
    async with store.transaction() as tx:
        assert (await tx.receipts.get(receipt.id)).status is ReceiptStatus.REJECTED
        audited = await tx.staff.audit_log(target=f"receipt:{receipt.id}")
    assert [e.action for e in audited] == ["reject"] and audited[0].detail["reason"] == XSS[:200]
    await _login(client, "admin")  # a new session: the audit page is the admins'

    _no_raw_markup(await (await client.get("/console/audit")).text())
