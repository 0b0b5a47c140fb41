"""The staff console over HTTP: sign-in and throttling, roles on every route, CSRF on every form, escaping,
and what support and managers do there (reply, moderate, undo a merge, export and erase)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.web.app import build_app
from bots.web.console import ConsoleConfig, console
from bots.web.console.auth import hash_password
from core.bus import Bus, PublishingStore
from core.domain_events import Happened
from core.events import InboundEvent
from core.ports import ReceiptStatus
from core.ports.draws import NewWinner, WinnerStatus
from core.ports.routes import Candidate, RouteDecision
from core.ports.staff import StaffRole
from core.ports.tickets import TicketStatus
from core.support import tickets as support
from core.templates import Templates
from promo import ledger
from promo.campaigns import Award, CampaignStatus
from tests.conftest import CHANNELS
from tests.contract.test_campaigns import MILK
from tests.contract.test_draws import TIERS
from tests.contract.test_receipts import CAMPAIGN, fiscal

PASSWORD = "correct horse battery"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def console_client(store, clock, **more: object) -> TestClient:
    """The console app with an admin, a support agent and a manager; ``more``: other ConsoleConfig fields."""
    bus, woken = Bus(), []  # what the console queues is published as it commits: the outbox is woken by it
    bus.subscribe(woken.extend, Happened.MESSAGE_QUEUED)
    config = ConsoleConfig(PublishingStore(store, bus), Templates.load(), CHANNELS, clock, ZoneInfo("Europe/Moscow"),
                           lambda campaign: timedelta(hours=4), **more)  # type: ignore[arg-type]
    async with store.transaction() as tx:
        for name, role in (("admin", StaffRole.ADMIN), ("olga", StaffRole.SUPPORT), ("ivan", StaffRole.MANAGER)):
            await tx.staff.add_user(name, name.title(), role, hash_password(PASSWORD), clock())
    client = TestClient(TestServer(build_app("v1", [], {"/console": console(config)})))
    await client.start_server()
    client.woken = woken  # type: ignore[attr-defined]
    return client


@pytest.fixture
async def http(store, clock):
    client = await console_client(store, clock)
    yield client
    await client.close()


async def _login(client: TestClient, name: str) -> str:
    answer = await client.post("/console/login", data={"username": name, "password": PASSWORD},
                               allow_redirects=False)
    assert answer.status == 302, await answer.text()
    page = await client.get("/console/tickets" if name != "ivan" else "/console/dashboard")
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]


async def _ticket(store, clock, text: str = "Не пришёл кешбэк") -> tuple[int, int]:
    async with store.transaction() as tx:
        person = await tx.people.create("ru", clock())
        person.name = "Анна"
        await tx.people.save(person)
        await tx.people.add_account(person.id, "telegram", "1001", "Анна", clock())
        await tx.messages.log_inbound(person.id, InboundEvent.from_text("telegram", "1001", text), clock())
        ticket = await support.open_ticket(tx, person.id, "promo", "telegram", "1001", text, clock())
    return person.id, ticket.id


async def test_a_wrong_password_is_refused_and_five_failures_lock_the_name(http: TestClient) -> None:
    answer = await http.post("/console/login", data={"username": "olga", "password": "wrong password"})
    assert answer.status == 401 and "Неверный логин" in await answer.text()
    for _ in range(4):
        await http.post("/console/login", data={"username": "olga", "password": "wrong password"})
    locked = await http.post("/console/login", data={"username": "olga", "password": PASSWORD})
    assert locked.status == 429
    assert (await http.post("/console/login", data={"username": "nobody", "password": "x"})).status == 401


async def test_pages_need_a_session_and_the_right_role(http: TestClient) -> None:
    anonymous = await http.get("/console/tickets", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"] == "/console/login"
    await _login(http, "olga")
    assert (await http.get("/console/tickets")).status == 200
    for page in ("/console/dashboard", "/console/staff", "/console/audit"):
        refused = await http.get(page)
        assert refused.status == 403 and "Нет доступа" in await refused.text(), page
    assert "/console/dashboard" not in await (await http.get("/console/tickets")).text()  # not offered either


async def test_a_manager_sees_the_dashboard_but_not_tickets(http: TestClient) -> None:
    await _login(http, "ivan")
    dashboard = await http.get("/console/dashboard")
    body = await dashboard.text()
    assert dashboard.status == 200 and body.count("<svg") == 5 and "<script" not in body
    assert (await http.get("/console/tickets")).status == 403


async def test_a_form_without_the_csrf_token_is_refused(http: TestClient, store, clock) -> None:
    _, ticket_id = await _ticket(store, clock)
    csrf = await _login(http, "olga")
    refused = await http.post(f"/console/tickets/{ticket_id}/reply", data={"text": "hi"})
    forged = await http.post(f"/console/tickets/{ticket_id}/reply", data={"text": "hi", "csrf": "x" + csrf})
    assert refused.status == forged.status == 403
    async with store.transaction() as tx:
        assert await tx.messages.entries(template="support.reply") == []


async def test_what_a_person_wrote_is_shown_as_text(http: TestClient, store, clock) -> None:
    _, ticket_id = await _ticket(store, clock, XSS)
    await _login(http, "olga")
    for page in ("/console/tickets", f"/console/tickets/{ticket_id}"):
        body = await (await http.get(page)).text()
        assert "<script>alert" not in body and "<img src=x" not in body, page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body, page


async def test_a_reply_goes_to_the_tickets_channel_wakes_the_outbox_and_is_audited(http: TestClient, store,
                                                                                    clock) -> None:
    person_id, ticket_id = await _ticket(store, clock)
    csrf = await _login(http, "olga")
    page = await (await http.get(f"/console/tickets/{ticket_id}?canned=received")).text()
    assert "Анна, здравствуйте! Мы получили ваше обращение №" in page
    answer = await http.post(f"/console/tickets/{ticket_id}/reply", data={"text": "Проверим", "csrf": csrf},
                             allow_redirects=False)
    assert answer.status == 302 and http.woken  # type: ignore[attr-defined]
    await http.post(f"/console/tickets/{ticket_id}/note", data={"text": "внутреннее", "csrf": csrf})
    async with store.transaction() as tx:
        sent = await tx.messages.entries(person_id, template="support.reply")
        ticket = await tx.tickets.get(ticket_id)
        audit = [e.action for e in await tx.staff.audit_log(target=f"ticket:{ticket_id}")]
    assert (sent[0].channel, sent[0].account_id, sent[0].params["text"]) == ("telegram", "1001", "Проверим")
    assert ticket.status is TicketStatus.WAITING and audit == ["note", "reply"]
    body = await (await http.get(f"/console/tickets/{ticket_id}")).text()
    assert "внутреннее" in body and "Проверим" in body


async def test_the_ticket_page_shows_draw_entries_wins_and_router_decisions(http: TestClient, store, clock) -> None:
    person_id, ticket_id = await _ticket(store, clock)
    autumn = replace(MILK, code=CAMPAIGN, zone=ZoneInfo("Europe/Moscow"), starts_on=date(2026, 11, 1),
                     ends_on=date(2026, 11, 30), status=CampaignStatus.ACTIVE)
    async with store.transaction() as tx:
        await tx.campaigns.add(autumn, clock())
        for number in (1, 2, 3):
            await tx.receipts.add(person_id, CAMPAIGN, fiscal(number), "photo", ReceiptStatus.ACCEPTED,
                                  Award(0, 5, False), clock(), None)
        draw = await tx.draws.add(CAMPAIGN, "week-47", date(2026, 11, 16), date(2026, 11, 22), clock(), TIERS,
                                  "ab" * 32, "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", clock())
        await tx.draws.add_winners(draw.id, [NewWinner(person_id, "a" * 24, "car", 2, True, WinnerStatus.RESERVE,
                                                       None)], clock())
        tx.routes.record([RouteDecision(5, person_id, 0, clock(), (
            Candidate("telegram", "1001", 72.5, {"recency": 40.0}, outcome="delivered"),
            Candidate("vk", "2002", dropped="blocked the bot")), "telegram", "1001", "delivered")])
    await _login(http, "olga")
    body = await (await http.get(f"/console/tickets/{ticket_id}")).text()
    assert "Участие в розыгрыше" in body and f"{CAMPAIGN} · week-47: 15 шансов, 3 чеков" in body
    assert body.count("week-47: 15") == 1  # one line for the draw, not one per entry or receipt
    assert "Выигрыш в розыгрыше" in body and "week-47: car, резерв 2" in body
    assert "Выбор канала" in body and "сообщение #5, попытка 1: Telegram 72.5 → delivered; VK ✕ blocked the bot" in body


async def test_moderation_approves_and_the_person_is_told(http: TestClient, store, clock) -> None:
    person_id, _ = await _ticket(store, clock)
    async with store.transaction() as tx:
        receipt = await tx.receipts.add(person_id, CAMPAIGN, fiscal(1), "photo", ReceiptStatus.MODERATION,
                                        Award(5_000, 1, False), clock(), None)
        await tx.ledger.post(ledger.accrual(person_id, 5_000), clock(), receipt_id=receipt.id)
        other = await tx.people.create("ru", clock())
        await tx.receipts.flag(receipt.id, other.id, "sent_by_another_person", clock())
    csrf = await _login(http, "olga")
    page = await (await http.get(f"/console/receipts/{receipt.id}")).text()
    assert "Тот же чек прислал другой участник" in page
    await http.post(f"/console/receipts/{receipt.id}/approve", data={"csrf": csrf})
    async with store.transaction() as tx:
        assert (await tx.receipts.get(receipt.id)).status is ReceiptStatus.ACCEPTED
        assert len(await tx.messages.entries(person_id, template="receipt.approved")) == 1


async def test_export_for_support_erasure_for_admins_only(http: TestClient, store, clock) -> None:
    person_id, _ = await _ticket(store, clock)
    csrf = await _login(http, "olga")
    exported = await http.get(f"/console/people/{person_id}/export")
    assert exported.status == 200 and (await exported.json())["person"]["name"] == "Анна"
    assert (await http.post(f"/console/people/{person_id}/erase", data={"csrf": csrf})).status == 403
    await http.post("/console/logout", data={"csrf": csrf})
    csrf = await _login(http, "admin")
    assert (await http.post(f"/console/people/{person_id}/erase", data={"csrf": csrf})).status == 200
    async with store.transaction() as tx:
        assert (await tx.people.get(person_id)).name is None
        assert [e.action for e in await tx.staff.audit_log(target=f"person:{person_id}")] == ["erase", "export"]


async def test_erasure_is_refused_while_a_payout_is_requested_to_the_persons_phone(http: TestClient, store,
                                                                                  clock) -> None:
    person_id, _ = await _ticket(store, clock)
    async with store.transaction() as tx:
        payout = await tx.ledger.add_payout(person_id, 10_000, "+79123456789", clock())
    csrf = await _login(http, "admin")
    refused = await http.post(f"/console/people/{person_id}/erase", data={"csrf": csrf})
    assert refused.status == 409 and f"payout {payout.id}" in await refused.text()
    async with store.transaction() as tx:
        assert (await tx.people.get(person_id)).name == "Анна"  # nothing erased: the money still has its phone
        assert [e.action for e in await tx.staff.audit_log(target=f"person:{person_id}")] == []
