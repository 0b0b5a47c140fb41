"""The console's manager pages over HTTP against the real app: campaigns (create, edit a rule, activate), draws
(commitment and drand round named at activation, the list frozen and published before the round, run once the
round is out, winners, the published files verified from outside; a draw without a round says so),
broadcasts (confirmation with the number of recipients, send, report); support refused; CSRF on every form."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from bots.drand import DrandRelays
from core import broadcasts, draws
from core.channels import ChannelProfile, TextFormat
from core.draws.sealing import SeedSeal
from core.outbox import Outbox
from core.ports import ReceiptStatus
from core.ports.draws import DrawStatus, WinnerStatus
from core.templates import Templates
from promo import draws as algorithm
from promo.beacon import QUICKNET
from promo.campaigns import CampaignStatus
from tests.chat import Chat
from tests.test_broadcasts import people
from tests.test_console import PASSWORD, console_client
from tests.test_routing import BLOCKED, TELEGRAM, VK, StandIn, VkStandIn

ZONE = ZoneInfo("Europe/Moscow")
ROUND = 657413  # a real quicknet round the drand emulator replays (2023-09-15 11:00:03 UTC)
XSS = '<script>alert("x")</script>'
NAMES = ("Анна Петрова", "Борис Иванов", "Вера Смирнова", "Глеб Орлов")
SEAL = SeedSeal(secrets.token_bytes(32))  # the console's DRAW_SEED_KEY


@pytest.fixture
async def http(store, clock, relay):
    relays = DrandRelays([relay.base_url])
    client = await console_client(store, clock, beacons=relays, winner_hours=72, seal=SEAL)
    yield client
    await client.close()
    await relays.close()


async def _login(client: TestClient, name: str) -> str:
    answer = await client.post("/console/login", data={"username": name, "password": PASSWORD},
                               allow_redirects=False)
    assert answer.status == 302, await answer.text()
    page = await client.get("/console/tickets" if name == "olga" else "/console/dashboard")
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]


def autumn(csrf: str, **changes: str) -> dict[str, str]:
    """The campaign form as a manager fills it: rules, two prize tiers, one draw over the whole campaign."""
    form = {
        "csrf": csrf, "code": "autumn", "title": "Осенний кешбэк", "time_zone": "Europe/Moscow",
        "starts_on": "2023-09-01", "ends_on": "2023-09-14",
        "receipts.min_sum": "100", "receipts.per_day": "5", "receipts.per_hour": "3",
        "receipts.cashback_percent": "5", "receipts.cashback_cap_per_receipt": "500",
        "receipts.cashback_cap_per_person": "3000", "receipts.roubles_per_entry": "100",
        "receipts.max_entries_per_receipt": "100", "receipts.max_entries_per_person": "1000",
        "anti_fraud.receipts_per_shop_per_hour": "0", "anti_fraud.people_per_fiscal_drive": "0",
        "products.include": "", "products.exclude": "", "products.min_items": "", "products.entries_per_item": "",
        "prizes-0.code": "tv", "prizes-0.name": "Телевизор", "prizes-0.quantity": "1", "prizes-0.value": "60000",
        "prizes-1.code": "cert", "prizes-1.name": "Сертификат", "prizes-1.quantity": "2", "prizes-1.value": "1000",
        "prizes-2.code": "", "prizes-2.name": "", "prizes-2.quantity": "", "prizes-2.value": "",
        "draws-0.code": "final", "draws-0.entries_from": "2023-09-01", "draws-0.entries_to": "2023-09-14",
        "draws-0.draw_at": "2023-09-15T13:30", "draws-0.prizes": "tv=1, cert=1", "draws-0.reserves": "1",
        "draws-1.code": "", "draws-1.entries_from": "", "draws-1.entries_to": "", "draws-1.draw_at": "",
        "draws-1.prizes": "", "draws-1.reserves": "",
        # the list closes on Sep 15 at 00:00 in Moscow (21:00 UTC); 14 hours later is ROUND, the emulator's
        "draw_rules.beacon": "drand", "draw_rules.beacon_margin_minutes": "840",
        "draw_rules.late_receipts": "next_draw"}
    form.update(changes)
    return form


def form_data(fields: dict[str, str], needs: dict[str, list[str]] | None = None) -> list[tuple[str, str]]:
    data = list(fields.items())
    for name, values in (needs or {}).items():
        data += [(name, value) for value in values]
    return data


async def _audit(store, target: str) -> list[str]:
    async with store.transaction() as tx:
        return [entry.action for entry in await tx.staff.audit_log(target=target)]


async def _create_and_activate(http: TestClient, csrf: str) -> None:
    created = await http.post("/console/campaigns", data=form_data(autumn(csrf), {"prizes-0.needs": ["address",
                                                                                                     "phone"]}),
                              allow_redirects=False)
    assert created.status == 302, await created.text()
    activated = await http.post("/console/campaigns/autumn/activate", data={"csrf": csrf}, allow_redirects=False)
    assert activated.status == 302, await activated.text()


async def test_a_manager_creates_a_campaign_edits_a_rule_and_activates_it(http: TestClient, store, clock) -> None:
    clock.now = datetime(2023, 9, 1, 6, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    nav = await (await http.get("/console/dashboard")).text()
    assert all(f'href="/console/{page}"' in nav for page in ("campaigns", "draws", "broadcasts"))
    assert "Новая акция" in await (await http.get("/console/campaigns/_new")).text()

    created = await http.post("/console/campaigns", data=form_data(autumn(csrf), {"prizes-0.needs": ["address",
                                                                                                     "phone"]}),
                              allow_redirects=False)
    assert created.status == 302 and created.headers["Location"] == "/console/campaigns/autumn?done=created"
    async with store.transaction() as tx:
        stored = await tx.campaigns.get("autumn")
    assert stored is not None and stored.status is CampaignStatus.DRAFT
    assert (stored.receipts_per_day, stored.min_sum_kopecks, stored.kopecks_per_entry) == (5, 100_00, 100_00)
    assert stored.tier("tv").needs == frozenset({"address", "phone"}) and stored.tier("cert").value_kopecks == 1000_00
    (plan,) = stored.draws
    assert plan.draw_at == datetime(2023, 9, 15, 13, 30, tzinfo=ZONE) and plan.prizes == (("tv", 1), ("cert", 1))
    page = await (await http.get(created.headers["Location"])).text()
    assert "Осенний кешбэк" in page and "черновик" in page and "Телевизор" in page and "Акция создана" in page

    form = await (await http.get("/console/campaigns/autumn/edit")).text()  # the form shows the stored rules
    assert 'name="receipts.per_day" type="text" value="5"' in form and 'value="tv=1, cert=1"' in form
    assert 'value="2023-09-15T13:30"' in form and 'name="prizes-0.needs" value="address" checked' in form
    edited = await http.post("/console/campaigns/autumn/edit", data=form_data(
        autumn(csrf, **{"receipts.per_day": "7", "code": "renamed"}), {"prizes-0.needs": ["address", "phone"]}),
        allow_redirects=False)
    assert edited.status == 302, await edited.text()
    async with store.transaction() as tx:
        stored = await tx.campaigns.get("autumn")
        assert await tx.campaigns.get("renamed") is None  # the code in the address is the one changed
    assert stored is not None and stored.receipts_per_day == 7 and stored.tier("tv").needs == {"address", "phone"}

    activated = await http.post("/console/campaigns/autumn/activate", data={"csrf": csrf}, allow_redirects=False)
    assert activated.status == 302
    async with store.transaction() as tx:
        stored = await tx.campaigns.get("autumn")
        (draw,) = await tx.draws.of_campaign("autumn")
    assert stored is not None and stored.status is CampaignStatus.ACTIVE
    page = await (await http.get("/console/campaigns/autumn")).text()
    seed = SEAL.open(draw.sealed_seed or "", draw.campaign, draw.code, draw.commitment).hex()
    assert "идёт" in page and draw.commitment in page and seed not in page  # the seed stays secret
    listing = await (await http.get("/console/campaigns")).text()
    assert 'href="/console/campaigns/autumn"' in listing and "01.09.2023" in listing
    again = await http.post("/console/campaigns/autumn/activate", data={"csrf": csrf})
    assert again.status == 409 and "not a draft" in await again.text()
    assert await _audit(store, "campaign:autumn") == ["campaign_activate", "campaign_edit", "campaign_create"]


async def test_a_wrong_value_is_shown_on_the_form_and_nothing_is_stored(http: TestClient, store, clock) -> None:
    clock.now = datetime(2023, 9, 1, 6, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    wrong = await http.post("/console/campaigns", data=autumn(csrf, **{"receipts.per_day": "пять",
                                                                       "title": XSS}))
    body = await wrong.text()
    assert wrong.status == 400, body
    assert "receipts.per_day: expected a whole number, got &#39;пять&#39;" in body
    assert 'value="пять" aria-invalid="true"' in body  # what was typed stays, the field is marked
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    backwards = await http.post("/console/campaigns", data=autumn(csrf, ends_on="2023-08-01"))
    assert backwards.status == 400 and "ends_on: the campaign ends before it starts" in await backwards.text()
    too_many = await http.post("/console/campaigns", data=autumn(csrf, **{"draws-0.prizes": "tv=5"}))
    assert too_many.status == 400 and "prizes.tv: the draws give 5, more than its quantity 1" in await too_many.text()
    unknown_tier = await http.post("/console/campaigns", data=autumn(csrf, **{"draws-0.prizes": "car"}))
    assert unknown_tier.status == 400 and "draws[0].prizes" in await unknown_tier.text()
    bad_toml = await http.post("/console/campaigns", data={"csrf": csrf, "toml": "code = "})
    assert bad_toml.status == 400 and "file: not valid TOML" in await bad_toml.text()
    async with store.transaction() as tx:
        assert await tx.campaigns.all() == []

    await _create_and_activate(http, csrf)
    moved = await http.post("/console/campaigns/autumn/edit", data=autumn(csrf, **{
        "draws-0.draw_at": "2023-09-16T12:00"}))  # its commitment is published: a running campaign keeps its draws
    assert moved.status == 409 and "a running campaign keeps its start" in await moved.text()
    assert (await http.get("/console/campaigns/nope")).status == 404


async def test_a_draw_runs_once_its_beacon_round_is_out_and_its_protocol_verifies(http: TestClient, store, clock,
                                                                                   engine) -> None:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    assert draw.beacon_round == ROUND and draw.seed == ""  # named at activation; the seed kept sealed
    published = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert draw.commitment in published and "назначен" in published and f"раунд {ROUND}" in published
    assert "Список ещё открыт: закроется 15.09.2023 00:00" in published and "Name a drand round" not in published
    assert f'href="/console/draws/{draw.id}"' in await (await http.get("/console/draws")).text()

    for i, name in enumerate(NAMES):  # four people send a receipt each in Telegram; the manager approves them
        chat = Chat.telegram(engine, f"50{i}")
        await chat.register(name=name, phone=f"+7 912 000-00-0{i}", email=None)
        assert await chat.send(f"t=20230909T1200&s=500.00&fn=7380440700123456&i={70 + i}&fp=2964503817&n=1"
                               ) == ["receipt.confirm"]
        assert await chat.press("receipt:yes") == ["receipt.accepted_moderation"]
    async with store.transaction() as tx:
        waiting = await tx.receipts.with_status(ReceiptStatus.MODERATION)
    assert len(waiting) == 4
    for receipt in waiting:
        approved = await http.post(f"/console/receipts/{receipt.id}/approve", data={"csrf": csrf},
                                   allow_redirects=False)
        assert approved.status == 302

    typo = await http.post(f"/console/draws/{draw.id}/beacon", data={"csrf": csrf, "round": "soon"})
    assert typo.status == 400 and "Номер раунда — целое число" in await typo.text()
    other = await http.post(f"/console/draws/{draw.id}/beacon", data={"csrf": csrf, "round": str(ROUND + 100)})
    assert other.status == 409 and f"already names round {ROUND}" in await other.text()  # never picked again
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert f"раунд {ROUND}" in page and "ещё не вышел" in page

    clock.now = datetime(2023, 9, 15, 10, 45, tzinfo=UTC)  # due (13:30 in Moscow), but the round is at 11:00:03
    csrf = await _login(http, "ivan")  # days later: a new session
    early = await http.post(f"/console/draws/{draw.id}/run", data={"csrf": csrf})
    text = await early.text()
    assert early.status == 409 and "Раунд drand ещё не вышел" in text and "15.09.2023 14:00" in text
    async with store.transaction() as tx:
        frozen = await tx.draws.get(draw.id)
    assert frozen.status is DrawStatus.SCHEDULED and frozen.frozen_at == clock() < QUICKNET.time_of(ROUND)
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert "Список закрыт" in page and str(frozen.entries_hash) in page  # its hash shown before the round is out
    before = await http.get(f"/console/draws/{draw.id}/files/entries.csv")
    assert before.status == 200
    listed = await before.read()

    clock.now = QUICKNET.time_of(ROUND) + timedelta(minutes=1)
    ran = await http.post(f"/console/draws/{draw.id}/run", data={"csrf": csrf}, allow_redirects=False)
    assert ran.status == 302, await ran.text()
    assert http.woken  # type: ignore[attr-defined]  # the winners are told now
    async with store.transaction() as tx:
        drawn = await tx.draws.get(draw.id)
        winners = await tx.draws.winners(draw.id)
        notices = await tx.messages.entries(template="draw.won")
    assert drawn.status is DrawStatus.DRAWN and (drawn.participants, drawn.entries) == (4, 20)
    assert drawn.beacon_randomness == "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
    assert [(w.tier, w.reserve, w.status) for w in winners] == [
        ("tv", False, WinnerStatus.NOTIFIED), ("tv", True, WinnerStatus.RESERVE),
        ("cert", False, WinnerStatus.NOTIFIED), ("cert", True, WinnerStatus.RESERVE)]
    assert len(notices) == 2
    page = await (await http.get(ran.headers["Location"])).text()
    assert drawn.seed in page and "уведомлён" in page and "в резерве" in page and "Розыгрыш проведён" in page

    protocol = await http.get(f"/console/draws/{draw.id}/files/protocol.html")
    assert protocol.status == 200 and "attachment" in protocol.headers["Content-Disposition"]
    entries = await (await http.get(f"/console/draws/{draw.id}/files/entries.csv")).read()
    published_winners = await (await http.get(f"/console/draws/{draw.id}/files/winners.csv")).text()
    html = await protocol.text()
    seed = re.search(r"Зерно \(раскрыто\)</th><td><code>([0-9a-f]{64})", html).group(1)  # type: ignore[union-attr]
    randomness = re.search(r"randomness <code>([0-9a-f]{64})", html).group(1)  # type: ignore[union-attr]
    prizes = re.search(r"--prizes (\S+)", html).group(1)  # type: ignore[union-attr]
    # an outsider's check: the published files alone, against the commitment shown before the draw
    outside = algorithm.verify(entries, seed, algorithm.parse_tiers(prizes), algorithm.ALGORITHM, randomness)
    assert outside.commitment == draw.commitment and outside.entries_hash in html and entries == listed
    assert f"--commitment {draw.commitment}" in html  # the protocol's command checks the commitment too
    rows = list(csv.DictReader(io.StringIO(published_winners)))
    assert [(p.tier, str(p.position), "yes" if p.reserve else "no", p.participant) for p in outside.picks] == [
        (r["tier"], r["position"], r["reserve"], r["participant"]) for r in rows]
    assert not any(name.split()[0] in html + published_winners for name in NAMES) and b"+7" not in entries

    verified = await http.post(f"/console/draws/{draw.id}/verify", data={"csrf": csrf})
    text = await verified.text()
    assert verified.status == 200
    assert "зерно совпадает с обязательством: <strong>да</strong>" in text
    assert "победители пересчитаны те же: <strong>да</strong>" in text
    assert (await http.post(f"/console/draws/{draw.id}/run", data={"csrf": csrf})).status == 409  # drawn once

    winner = winners[0]
    unconfirmed = await http.post(f"/console/winners/{winner.id}/sent", data={"csrf": csrf})
    assert unconfirmed.status == 409 and "only a confirmed prize is sent" in await unconfirmed.text()
    async with store.transaction() as tx:  # the winner confirms in the bot (tests/test_draws_flow.py plays it)
        await draws.confirm(tx, winner, {"full_name": "Петрова Анна Сергеевна", "address": XSS}, clock())
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert "подтвердил" in page and "Петрова Анна Сергеевна" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page  # what a winner typed is shown as text
    sent = await http.post(f"/console/winners/{winner.id}/sent", data={"csrf": csrf}, allow_redirects=False)
    assert sent.status == 302
    async with store.transaction() as tx:
        assert (await tx.draws.winner(winner.id)).status is WinnerStatus.SENT
        assert [m.person_id for m in await tx.messages.entries(template="draw.prize_sent")] == [winner.person_id]
    assert await _audit(store, f"winner:{winner.id}") == ["prize_sent"]
    assert await _audit(store, f"draw:{draw.id}") == ["draw_verify", "draw_export", "draw_export", "draw_export",
                                                      "draw_run", "draw_export"]


async def test_a_draw_not_drawn_yet_offers_no_files(http: TestClient, store, clock) -> None:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    for name, why in (("protocol.html", "not drawn yet"), ("entries.csv", "not frozen yet"),
                      ("winners.csv", "not drawn yet")):
        answer = await http.get(f"/console/draws/{draw.id}/files/{name}")
        assert answer.status == 409 and why in await answer.text(), name
    not_due = await http.post(f"/console/draws/{draw.id}/run", data={"csrf": csrf})
    assert not_due.status == 409 and "Время розыгрыша ещё не пришло" in await not_due.text()
    assert (await http.post(f"/console/draws/{draw.id}/verify", data={"csrf": csrf})).status == 409
    assert (await http.get("/console/draws/999999")).status == 404


async def test_a_draw_without_a_round_says_so_and_runs_only_when_its_campaign_says_so(http: TestClient, store,
                                                                                      clock) -> None:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    created = await http.post("/console/campaigns", data=autumn(csrf, **{"draw_rules.beacon": "none"}),
                              allow_redirects=False)
    assert created.status == 302, await created.text()
    assert (await http.post("/console/campaigns/autumn/activate", data={"csrf": csrf})).status == 200
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    assert draw.beacon_round is None
    warning = "исход определяется одним зерном, и тот, кто знает зерно, знает исход"
    assert warning in await (await http.get("/console/campaigns/autumn")).text()
    assert warning in await (await http.get(f"/console/draws/{draw.id}")).text()
    form = await (await http.get("/console/campaigns/autumn/edit")).text()
    assert '<option value="none" selected>' in form
    clock.now = draw.draw_at + timedelta(minutes=1)
    csrf = await _login(http, "ivan")  # days later: a new session
    ran = await http.post(f"/console/draws/{draw.id}/run", data={"csrf": csrf}, allow_redirects=False)
    assert ran.status == 302, await ran.text()


async def test_a_broadcast_is_confirmed_with_its_recipients_sent_and_reported(http: TestClient, store,
                                                                               clock) -> None:
    await people(store, clock)
    csrf = await _login(http, "ivan")
    listing = await (await http.get("/console/broadcasts")).text()
    assert 'value="registered"' in listing and 'value="notify.announcement"' in listing

    missing = await http.post("/console/broadcasts/confirm", data={
        "csrf": csrf, "template": "notify.announcement", "segment": "registered", "params": ""})
    assert missing.status == 400 and "needs --param text" in await missing.text()
    malformed = await http.post("/console/broadcasts/confirm", data={
        "csrf": csrf, "template": "notify.announcement", "segment": "registered", "params": "просто текст"})
    assert malformed.status == 400 and "expected name=value" in await malformed.text()
    choice = {"csrf": csrf, "template": "notify.announcement", "segment": "registered",
              "params": f"text=Новый розыгрыш {XSS}", "answer_within_hours": "", "deadline_hours": "72"}
    confirm = await http.post("/console/broadcasts/confirm", data=choice)
    page = await confirm.text()
    assert confirm.status == 200 and "<strong>3</strong>" in page and "Отправить, получателей: 3" in page
    assert "<script>alert" not in page
    async with store.transaction() as tx:
        assert await tx.broadcasts.recent() == []  # nothing goes before the confirmation

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert fields["params"] == "text=Новый розыгрыш &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    fields = {name: value.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"')
              for name, value in fields.items()}  # what the browser sends back
    sent = await http.post("/console/broadcasts", data=fields, allow_redirects=False)
    assert sent.status == 302 and http.woken  # type: ignore[attr-defined]
    broadcast_id = int(sent.headers["Location"].rsplit("/", 1)[1])

    channels = {TELEGRAM: StandIn(ChannelProfile(TELEGRAM, "Telegram", TextFormat.HTML, max_text=4096)),
                VK: VkStandIn(ChannelProfile(VK, "VK", TextFormat.PLAIN, max_text=4096))}
    channels[TELEGRAM].answers["1001"] = BLOCKED
    clock.advance(minutes=1)
    outbox = Outbox(store, Templates.load(), channels, clock=clock, worker_id="w")  # type: ignore[arg-type]
    while await outbox.claim_due():
        assert await outbox.drained(10)
    assert [m.text for _, m in channels[VK].sent] == [f"Новый розыгрыш {XSS}"] * 2

    report = await (await http.get(f"/console/broadcasts/{broadcast_id}")).text()
    assert "<code>notify.announcement</code>" in report and "<code>registered</code>" in report
    assert re.search(r"Доставлено по каналам</th><td>VK: 2</td>", report), report
    assert re.search(r"Через запасной канал</th><td>1</td>", report)  # Telegram was blocked: VK instead
    assert "1 — unreachable: email: channel not running" in report
    assert f'href="/console/broadcasts/{broadcast_id}"' in await (await http.get("/console/broadcasts")).text()
    assert await _audit(store, f"broadcast:{broadcast_id}") == ["broadcast_send"]
    assert (await http.get("/console/broadcasts/999")).status == 404


async def test_recipients_are_counted_page_by_page_as_the_broadcast_queues_them(store, clock) -> None:
    await people(store, clock)
    original = broadcasts.PAGE
    broadcasts.PAGE = 2
    try:
        segments = broadcasts.standard_segments()
        assert await broadcasts.recipients(store, segments.find("registered")) == 3
        assert await broadcasts.recipients(store, segments.find("pending-receipt")) == 0
    finally:
        broadcasts.PAGE = original
    with pytest.raises(broadcasts.BroadcastError, match="no segment 'nobody'"):
        segments.find("nobody")


MANAGER_PAGES = ["/console/campaigns", "/console/campaigns/_new", "/console/campaigns/autumn",
                 "/console/campaigns/autumn/edit", "/console/draws", "/console/draws/1",
                 "/console/draws/1/files/protocol.html", "/console/draws/1/files/entries.csv",
                 "/console/broadcasts", "/console/broadcasts/1", "/console/channels"]
MANAGER_ACTIONS = ["/console/campaigns", "/console/campaigns/autumn/edit", "/console/campaigns/autumn/activate",
                   "/console/campaigns/autumn/finish", "/console/draws/1/beacon", "/console/draws/1/run",
                   "/console/draws/1/verify", "/console/draws/1/move", "/console/draws/1/cancel",
                   "/console/winners/1/sent", "/console/broadcasts/confirm",
                   "/console/broadcasts", "/console/channels"]


async def test_support_gets_403_on_every_manager_route(http: TestClient, store, clock) -> None:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    await people(store, clock)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    await http.post("/console/logout", data={"csrf": csrf})
    csrf = await _login(http, "olga")
    queue = await (await http.get("/console/tickets")).text()
    assert all(f'href="/console/{page}"' not in queue for page in ("campaigns", "draws", "broadcasts"))
    for path in MANAGER_PAGES:
        refused = await http.get(path)
        assert refused.status == 403 and "Нет доступа" in await refused.text(), path
    for path in MANAGER_ACTIONS:
        refused = await http.post(path, data={**autumn(csrf), "template": "notify.announcement",
                                              "segment": "registered", "params": "text=x"})
        assert refused.status == 403, path
    async with store.transaction() as tx:
        assert (await tx.campaigns.get("autumn")).status is CampaignStatus.ACTIVE  # type: ignore[union-attr]
        assert await tx.broadcasts.recent() == []
        untouched = (await tx.draws.of_campaign("autumn"))[0]
    assert (untouched.beacon_round, untouched.status) == (ROUND, DrawStatus.SCHEDULED)  # as activation named it


async def test_a_post_without_the_csrf_token_is_refused(http: TestClient, store, clock) -> None:
    clock.now = datetime(2023, 9, 1, 6, 0, tzinfo=UTC)
    await people(store, clock)
    csrf = await _login(http, "ivan")
    no_token = {k: v for k, v in autumn(csrf).items() if k != "csrf"}
    assert (await http.post("/console/campaigns", data=no_token)).status == 403
    assert (await http.post("/console/campaigns", data={**no_token, "csrf": csrf + "x"})).status == 403
    await _create_and_activate(http, csrf)  # with its token the same form goes through
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    for path in ("/console/campaigns/autumn/finish", f"/console/draws/{draw.id}/beacon",
                 f"/console/draws/{draw.id}/run", "/console/broadcasts"):
        refused = await http.post(path, data={"early": "yes", "template": "notify.announcement",
                                              "segment": "registered", "params": "text=x"})
        assert refused.status == 403 and "Форма устарела" in await refused.text(), path
    async with store.transaction() as tx:
        assert (await tx.campaigns.get("autumn")).status is CampaignStatus.ACTIVE  # type: ignore[union-attr]
        assert await tx.draws.get(draw.id) == draw  # neither run nor given another round
        assert await tx.broadcasts.recent() == []


async def test_the_manager_pages_speak_english_too_and_show_no_raw_keys(http: TestClient, store, clock) -> None:
    clock.now = datetime(2023, 9, 1, 6, 0, tzinfo=UTC)
    await people(store, clock)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    pages = ["/console/campaigns", "/console/campaigns/_new", "/console/campaigns/autumn",
             "/console/campaigns/autumn/edit", "/console/draws", f"/console/draws/{draw.id}", "/console/broadcasts"]
    raw = re.compile(r">\s*(campaign_\w+|draw_\w+|winner_\w+|done_\w+|need_\w+|run_\w+)\s*<")
    for path in pages:
        body = await (await http.get(path)).text()
        assert not raw.search(body), (path, raw.search(body))
    assert (await http.post("/console/language", data={"csrf": csrf})).status == 200
    english = {"/console/campaigns": "Campaigns", "/console/campaigns/autumn": "Edit rules",
               "/console/campaigns/autumn/edit": "Receipts per day per person",
               f"/console/draws/{draw.id}": "Published before the draw", "/console/broadcasts": "New broadcast"}
    for path, words in english.items():
        body = await (await http.get(path)).text()
        assert words in body and not raw.search(body), path
