"""The WhatsApp channel against our Cloud API emulator, over real HTTP through pywa: the webhook's handshake and
signatures, updates read into the core's events, rendered messages as WhatsApp's message kinds, the 24-hour window
and its approved templates, the rate limits and refusals."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bots.emulators.server import LoopbackServer
from bots.emulators.whatsapp_api import APP_SECRET, WhatsAppEmulator
from bots.whatsapp import WhatsAppChannel, WhatsAppSettings
from bots.whatsapp_wire import SHARE_CONTACT, ApprovedTemplate
from core.delivery import DeliveryOutcome
from core.events import EventKind, InboundEvent
from core.intake import Intake
from core.ports import InboxEntry, NewUpdate
from core.templates import Button, Rendered

USER, OTHER = 79001234567, 79007654321
VERIFY = "verify-token-0123456789"
PRIZE = ApprovedTemplate(name="prize_won", params=["campaign", "prize", "deadline"])
WON = {"campaign": "Осень", "prize": "Телевизор\n55″", "deadline": "01.12.2026", "winner_id": "7"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


class Taken:
    """What the webhook stored, standing in for the intake (the e2e tests run the real one)."""

    def __init__(self) -> None:
        self.updates: list[NewUpdate] = []
        self.changed = asyncio.Condition()
        self.away = False

    async def receive(self, bot: str, updates: list[NewUpdate], cursor: str | None = None) -> int:
        if self.away:
            raise ConnectionError("the database is away")
        self.updates += updates
        async with self.changed:
            self.changed.notify_all()
        return len(updates)

    async def wait(self, count: int) -> list[NewUpdate]:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(lambda: len(self.updates) >= count)
        return self.updates


@pytest.fixture
async def wa() -> AsyncIterator[WhatsAppEmulator]:
    emulator = WhatsAppEmulator(pair_burst=None)
    await emulator.start()
    yield emulator
    await emulator.stop()


def settings_for(wa: WhatsAppEmulator, **extra: Any) -> WhatsAppSettings:
    values: dict[str, Any] = {"token": wa.token, "phone_id": wa.phone_id, "app_id": wa.app_id,
                              "app_secret": APP_SECRET, "verify_token": VERIFY, "api_base": wa.base_url,
                              "templates": {"draw.won": PRIZE}, **extra}
    return WhatsAppSettings(_env_file=None, **values)


class Rig:
    """The channel with its webhook routes served, subscribed at the emulator as ``start`` does it."""

    def __init__(self, wa: WhatsAppEmulator, **extra: Any) -> None:
        self.wa, self.taken, self.app = wa, Taken(), web.Application()
        self.server = LoopbackServer(self.app)
        self.extra = extra
        self.read_upto = 0

    async def __aenter__(self) -> Rig:
        port = free_port()  # known before the server starts: its routes are the channel's, built with the URL
        self.channel = WhatsAppChannel(settings_for(self.wa, public_url=f"http://127.0.0.1:{port}", **self.extra),
                                       "webhook")
        self.app.router.add_routes(self.channel.routes(cast(Intake, self.taken)))
        await self.server.start(port=port)
        await self.channel.start(cast(Intake, self.taken))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.channel.close()
        await self.server.stop()

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/webhook/whatsapp"

    async def read(self, new: NewUpdate) -> InboundEvent | None:
        return await self.channel.read(InboxEntry(1, self.channel.bot, new.update_id, new.account_id, new.raw, 0))

    async def next(self) -> InboundEvent | None:
        """The next stored update, read as the intake reads it."""
        new = (await self.taken.wait(self.read_upto + 1))[self.read_upto]
        self.read_upto += 1
        return await self.read(new)


@pytest.fixture
async def rig(wa: WhatsAppEmulator) -> AsyncIterator[Rig]:
    async with Rig(wa) as running:
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def signed(body: Any, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
                 "Content-Type": "application/json"}


def envelope(*values: dict[str, Any], phone_id: str) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
                                        "metadata": {"phone_number_id": phone_id}, **value}} for value in values]}]}


def text_value(wamid: str, text: str = "/help", at: float | None = None, bsuid: str = "RU.123456789") -> dict[str, Any]:
    return {"contacts": [{"profile": {"name": "Мария"}, "user_id": bsuid, "wa_id": "79001112233"}],
            "messages": [{"from": "79001112233", "from_user_id": bsuid, "id": wamid, "type": "text",
                          "timestamp": str(int(at or time.time())), "text": {"body": text}}]}


# the webhook ------------------------------------------------------------------------------------


async def test_start_subscribes_the_webhook_after_metas_handshake(wa: WhatsAppEmulator, rig: Rig) -> None:
    assert wa.callback_url == rig.url
    calls = [(verb, path) for _, verb, path, _ in wa.calls]
    assert ("GET", "oauth/access_token") in calls and ("POST", f"{wa.app_id}/subscriptions") in calls
    async with aiohttp.ClientSession() as http:
        good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
        assert await (await http.get(rig.url, params=good)).text() == "1158201444"
        for wrong in ({**good, "hub.verify_token": "guess"}, {**good, "hub.mode": "unsubscribe"},
                      {**good, "hub.challenge": "<script>"}, {}):
            assert (await http.get(rig.url, params=wrong)).status == 403


async def test_a_wrong_verify_token_leaves_the_webhook_unsubscribed(wa: WhatsAppEmulator, rig: Rig) -> None:
    await wa.stop_webhook()
    wa.callback_url = wa.pusher = None
    impostor = WhatsAppChannel(settings_for(wa, public_url=rig.server.base_url,
                                            verify_token="not-the-token-the-route-checks"), "webhook")
    await impostor.start(cast(Intake, rig.taken))  # Meta's handshake fails at our route: logged, never raised
    await impostor.close()
    assert wa.callback_url is None


async def test_only_bodies_signed_with_the_app_secret_are_stored_and_replays_are_refused(
        wa: WhatsAppEmulator, rig: Rig) -> None:
    fresh = envelope(text_value("wamid.fresh-0001"), phone_id=wa.phone_id)
    raw, headers = signed(fresh)
    old = envelope(text_value("wamid.replayed-01", at=time.time() - 9 * 86400), phone_id=wa.phone_id)
    async with aiohttp.ClientSession() as http:
        assert (await http.post(rig.url, data=raw)).status == 401  # not signed at all
        forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
        assert (await http.post(rig.url, data=raw, headers=forged)).status == 403
        other_secret = signed(fresh, "another-apps-secret")[1]
        assert (await http.post(rig.url, data=raw, headers=other_secret)).status == 403
        tampered = raw.replace(b"/help", b"/hack")
        assert (await http.post(rig.url, data=tampered, headers=headers)).status == 403
        odd = {**headers, "X-Hub-Signature-256": "sha256=" + "é" * 64}
        assert (await http.post(rig.url, data=raw, headers=odd)).status == 403
        assert (await http.post(rig.url, data=signed(old)[0], headers=signed(old)[1])).status == 403  # replayed
        assert rig.taken.updates == []
        for not_an_update in ([1, 2], {"object": "page", "entry": []}, {"object": "whatsapp_business_account"}):
            assert (await http.post(rig.url, data=signed(not_an_update)[0],
                                    headers=signed(not_an_update)[1])).status == 400
        broken = b"{not json"
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), broken, hashlib.sha256).hexdigest()
        assert (await http.post(rig.url, data=broken, headers={"X-Hub-Signature-256": signature})).status == 400
        assert (await http.post(rig.url, data=raw, headers=headers)).status == 200
        rig.taken.away = True
        again = envelope(text_value("wamid.while-away"), phone_id=wa.phone_id)
        assert (await http.post(rig.url, data=signed(again)[0], headers=signed(again)[1])).status == 503
    assert [u.update_id for u in rig.taken.updates] == ["wamid.fresh-0001"]


async def test_one_malformed_item_of_a_batch_costs_only_itself(wa: WhatsAppEmulator, rig: Rig) -> None:
    good = text_value("wamid.good-00001")
    body = envelope(
        {"messages": [{"id": "wamid.nobody-0001", "type": "text", "text": {"body": "x"}}, "garbage",
                      {"from_user_id": "RU.1; DROP TABLE", "id": "wamid.bad-sender1", "type": "text"},
                      {"from": "79001112233", "id": "../../me", "type": "text"}], "contacts": "nope"},
        good, {"statuses": [{"id": "wamid.out-000001", "status": "delivered", "recipient_id": "79001112233"},
                            {"id": "wamid.out-000002", "status": "failed", "recipient_user_id": "RU.123456789",
                             "errors": [{"code": 131026}]}, 5]},
        phone_id=wa.phone_id)
    body["entry"] += [{"id": "2", "changes": [{"field": "messages", "value": {  # another number of the same app
        "metadata": {"phone_number_id": "999"}, **text_value("wamid.not-ours-01")}}]}, "junk", {"changes": 7}]
    async with aiohttp.ClientSession() as http:
        raw, headers = signed(body)
        assert (await http.post(rig.url, data=raw, headers=headers)).status == 200
    assert [(u.update_id, u.account_id) for u in rig.taken.updates] == [
        ("wamid.good-00001", "RU.123456789"), ("failed:wamid.out-000002", "RU.123456789")]
    long_id = "wamid." + "H" * 90  # Meta's ids grow; the intake keeps 64 characters
    raw, headers = signed(envelope(text_value(long_id), phone_id=wa.phone_id))
    async with aiohttp.ClientSession() as http:
        assert (await http.post(rig.url, data=raw, headers=headers)).status == 200
    assert len(rig.taken.updates[-1].update_id) <= 64 and rig.taken.updates[-1].update_id.startswith("#")


# reading --------------------------------------------------------------------------------------------


async def test_what_people_send_becomes_core_events(wa: WhatsAppEmulator, rig: Rig) -> None:
    bsuid, picture = wa.bsuid_of(USER), png()
    mid = await wa.user_text(USER, "Привет")
    text = await rig.next()
    assert text is not None and (text.kind, text.text, text.account_id) == (EventKind.TEXT, "Привет", bsuid)
    assert text.update_id == mid and text.display_name == f"User{USER}"
    await wa.user_text(USER, "/start kefir")
    command = await rig.next()
    assert command is not None and (command.command, command.args) == ("/start", "kefir")
    await wa.user_photo(USER, picture)
    photo = await rig.next()
    assert photo is not None and photo.kind is EventKind.PHOTO and photo.photo == picture
    await wa.user_document(USER, picture, "image/png", "receipt.png")  # a receipt sent as a file
    document = await rig.next()
    assert document is not None and document.photo == picture
    await wa.user_document(USER, b"%PDF-1.4", "application/pdf", "receipt.pdf")
    await wa.user_sticker(USER)
    assert [(await rig.next()).kind for _ in range(2)] == [EventKind.UNSUPPORTED] * 2  # type: ignore[union-attr]
    await wa.user_reaction(USER, mid)
    assert await rig.next() is None  # a 👍 on a message needs no answer
    await wa.user_quick_reply(USER, "Забрать приз")  # a template's quick reply, as if typed
    quick = await rig.next()
    assert quick is not None and (quick.kind, quick.text) == (EventKind.TEXT, "Забрать приз")
    await asyncio.sleep(0.2)
    assert mid in wa.marked_read  # the person sees their message was read


async def test_presses_of_reply_buttons_and_list_rows_are_our_payloads(wa: WhatsAppEmulator, rig: Rig) -> None:
    await wa.user_text(USER, "Привет")
    bsuid = (await rig.next()).account_id  # type: ignore[union-attr]
    two = ((Button("callback", "Да", "receipt:yes"), Button("callback", "Нет", "receipt:no")),)
    assert (await rig.channel.send(bsuid, Rendered("Это ваш чек?", two), 1)).outcome is DeliveryOutcome.DELIVERED
    await wa.user_press(USER, "receipt:yes")
    pressed = await rig.next()
    assert pressed is not None and (pressed.kind, pressed.payload) == (EventKind.BUTTON, "receipt:yes")
    menu = tuple((Button("callback", f"Пункт {i}", f"/item {i}"),) for i in range(5))
    assert (await rig.channel.send(bsuid, Rendered("Меню", menu), 2)).outcome is DeliveryOutcome.DELIVERED
    await wa.user_press(USER, "/item 4")
    row = await rig.next()
    assert row is not None and (row.kind, row.command, row.args, row.payload) == (
        EventKind.COMMAND, "/item", "4", "/item 4")
    with pytest.raises(LookupError):  # nobody can press a button we never sent
        await wa.user_press(USER, "admin:grant")


async def test_a_shared_number_is_proved_only_when_whatsapp_vouches_for_it(wa: WhatsAppEmulator, rig: Rig) -> None:
    await wa.user_share_contact(USER)  # from our "request contact info" message: their own number
    own = await rig.next()
    assert own is not None and own.kind is EventKind.CONTACT and own.contact is not None
    assert (own.contact.phone, own.contact.is_own) == (f"+{USER}", True)
    await wa.user_share_contact(USER, "+7 900 765-43-21")  # a friend's card
    friend = await rig.next()
    assert friend is not None and friend.contact is not None and not friend.contact.is_own
    wa.hide_number(OTHER)  # took a username: their number is in no update, the BSUID still names them
    await wa.user_text(OTHER, "Привет")
    hidden = await rig.next()
    assert hidden is not None and hidden.account_id == wa.bsuid_of(OTHER)
    sent = await rig.channel.send(hidden.account_id, Rendered("Здравствуйте"), 1)
    assert sent.outcome is DeliveryOutcome.DELIVERED and wa.messages_to(OTHER)[0].text == "Здравствуйте"
    sent_body = next(body for _, verb, path, body in wa.calls if path.endswith("/messages") and "recipient" in body)
    assert sent_body["recipient"] == wa.bsuid_of(OTHER) and "to" not in sent_body


async def test_malformed_stored_updates_are_answered_or_ignored_never_raised(wa: WhatsAppEmulator, rig: Rig) -> None:
    account = "RU.123456789"
    shapes: list[dict[str, Any]] = [
        {"message": "garbage"},
        {"message": {"type": "text", "text": "flat"}},
        {"message": {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": 5}}}},
        {"message": {"type": "image", "image": {"id": "../../secret"}}},
        {"message": {"type": "contacts", "contacts": [{"phones": [{"wa_id": "not-digits"}, 3]}, "x"]}},
        {"message": {"type": "location", "location": {"latitude": 1}}},
        {"message": {"type": "reaction"}, "contact": {"profile": "Мария"}},
        {"failed": {"errors": "many"}},
    ]
    events = [await rig.read(NewUpdate("u1", account, shape)) for shape in shapes]
    kinds = [event.kind if event else None for event in events]
    assert kinds == [EventKind.UNSUPPORTED, EventKind.UNSUPPORTED, EventKind.UNSUPPORTED, EventKind.PHOTO,
                     EventKind.UNSUPPORTED, EventKind.UNSUPPORTED, None, None]
    assert events[3] is not None and events[3].attachment_error == "download_failed"
    assert await rig.read(NewUpdate("u2", None, {"message": {"type": "text"}})) is None


async def test_media_elsewhere_than_metas_hosts_is_never_fetched_and_big_media_is_refused(
        wa: WhatsAppEmulator, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    hits: list[str] = []

    async def bait(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization", ""))
        return web.Response(body=png())

    app = web.Application()
    app.router.add_get("/{tail:.*}", bait)
    elsewhere = LoopbackServer(app)
    base = await elsewhere.start()
    try:
        wa.media_base = base.replace("127.0.0.1", "localhost")  # a URL the Graph API would never give
        await wa.user_photo(USER, png())
        event = await rig.next()
        assert event is not None and event.attachment_error == "download_failed" and hits == []  # no token leaked
    finally:
        await elsewhere.stop()
    wa.media_base = None
    monkeypatch.setattr("bots.whatsapp_reading.MAX_PHOTO_BYTES", 64)
    await wa.user_photo(USER, png())
    big = await rig.next()
    assert big is not None and big.photo is None and big.attachment_error == "too_large"


# sending ----------------------------------------------------------------------------------------


def two_choices() -> tuple[tuple[Button, ...], ...]:
    return ((Button("callback", "Да", "yes"), Button("callback", "Нет", "no")),)


async def test_our_button_rows_become_whatsapps_kinds_with_every_button_kept(wa: WhatsAppEmulator, rig: Rig) -> None:
    await wa.user_text(USER, "Привет")
    to = (await rig.next()).account_id  # type: ignore[union-attr]

    async def shown(message: Rendered) -> list[Any]:
        before = wa.outbox.count(USER)
        assert (await rig.channel.send(to, message, 1)).outcome is DeliveryOutcome.DELIVERED
        return wa.messages_to(USER)[before:]

    consent = ((Button("callback", "Согласен", "consent:yes"), Button("callback", "Нет", "consent:no")),
               (Button("url", "Правила", url="https://promo.example/rules"),), (Button("callback", "Помощь", "/help"),))
    (replies,) = await shown(Rendered("Вы <b>согласны</b> с <a href=\"https://promo.example/rules\">правилами</a>?",
                                      consent, is_html=True))
    assert replies.kind == "interactive" and not replies.list_reply
    assert [b["payload"] for b in replies.buttons[0]] == ["consent:yes", "consent:no", "/help"]
    assert replies.text.startswith("Вы *согласны* с правилами (https://promo.example/rules)?")
    assert "Правила: https://promo.example/rules" in replies.text  # the link beside replies, spelled out
    twelve = tuple((Button("callback", f"Кампания {i}", f"campaign:{i}"),) for i in range(12))
    first, second = await shown(Rendered("Выберите кампанию", twelve, locale="ru"))
    assert first.list_reply and second.list_reply and second.text == "…"
    assert [b[0]["payload"] for b in first.buttons + second.buttons] == [f"campaign:{i}" for i in range(12)]
    (link,) = await shown(Rendered("Чат на сайте", ((Button("url", "Открыть чат", url="https://promo.example/c"),),)))
    assert link.buttons == [[{"label": "Открыть чат", "url": "https://promo.example/c"}]]
    (ask,) = await shown(Rendered("Ваш номер?", ((Button("contact", "📱 Мой номер"),),)))
    assert ask.buttons[0][0]["contact"] is True  # WhatsApp's own "share my number"
    mixed = ((Button("contact", "📱 Подтвердить"),), (Button("callback", "Код по SMS", "/phone"),))
    (both,) = await shown(Rendered("Подтвердите номер", mixed))
    assert [b["payload"] for b in both.buttons[0]] == ["/phone", SHARE_CONTACT]
    await wa.user_press(USER, SHARE_CONTACT)
    assert await rig.next() is None  # answered by the channel itself: now WhatsApp's request
    request = wa.messages_to(USER)[-1]
    assert request.text == "📱 Подтвердить" and request.buttons[0][0]["contact"] is True
    long_text = "Абзац. " * 400  # 2800 characters: more than an interactive body holds
    parts = await shown(Rendered(long_text.strip(), ((Button("callback", "Ок", "ok"),),)))
    assert [p.kind for p in parts] == ["text", "interactive"] and all(len(p.text) <= 1024 for p in parts[1:])
    assert " ".join(p.text for p in parts).split() == long_text.split()
    (picture,) = await shown(Rendered("Вот пример чека", image=png(), image_name="example.png"))
    assert picture.kind == "image" and picture.image == png() and picture.text == "Вот пример чека"
    (headed,) = await shown(Rendered("Ещё раз?", two_choices(), image=png(), image_name="example.png"))
    assert headed.kind == "interactive" and headed.image == png() and len(headed.buttons[0]) == 2  # image header
    assert sum(1 for _, verb, path, _ in wa.calls if path.endswith("/media")) == 1  # uploaded once, reused


async def test_outside_the_window_the_approved_template_goes_with_our_values_in_its_order(
        wa: WhatsAppEmulator, rig: Rig) -> None:
    wa.errors_in_statuses = False  # the refusal in the send's own answer
    wa.approve("prize_won", "ru", "{{1}}: вы выиграли «{{2}}», ответьте до {{3}}")
    await wa.user_text(USER, "Привет")
    to = (await rig.next()).account_id  # type: ignore[union-attr]
    wa.age(USER, 25)
    won = Rendered("Вы выиграли!", ((Button("callback", "Забрать", "/prize 7"),),), template="draw.won", params=WON)
    assert (await rig.channel.send(to, won, 11)).outcome is DeliveryOutcome.DELIVERED
    (sent,) = wa.messages_to(USER)
    assert (sent.kind, sent.template) == ("template", "prize_won")
    assert sent.params == ["Осень", "Телевизор 55″", "01.12.2026"]  # in the template's order, the line break gone
    assert sent.text == "Осень: вы выиграли «Телевизор 55″», ответьте до 01.12.2026"
    other = await rig.channel.send(to, Rendered("Ваш баланс 10 ₽", template="cashback.balance"), 12)
    assert other.outcome is DeliveryOutcome.FAILED and other.detail.startswith("session window closed")
    short = await rig.channel.send(to, Rendered("Вы выиграли!", template="draw.won", params={"prize": "ТВ"}), 13)
    assert short.outcome is DeliveryOutcome.FAILED and "needs campaign, prize, deadline" in short.detail
    await wa.user_text(USER, "Я тут")  # writing opens the window again
    await rig.next()
    assert (await rig.channel.send(to, Rendered("Снова на связи"), 14)).outcome is DeliveryOutcome.DELIVERED
    assert wa.messages_to(USER)[-1].kind == "text"


async def test_a_window_closed_reported_by_a_failed_status_is_answered_with_the_template(
        wa: WhatsAppEmulator, rig: Rig) -> None:
    wa.approve("prize_won", "ru", "{{1}}: вы выиграли «{{2}}», ответьте до {{3}}")
    await wa.user_text(USER, "Привет")
    to = (await rig.next()).account_id  # type: ignore[union-attr]
    wa.age(USER, 30)
    won = Rendered("Вы выиграли!", template="draw.won", params=WON)
    assert (await rig.channel.send(to, won, 21)).outcome is DeliveryOutcome.DELIVERED  # accepted, then refused
    failed = await rig.next()  # the failed status, stored: read, it sends the template
    assert failed is None
    (sent,) = await wa.wait_for_messages(USER, 1)
    assert sent.kind == "template" and sent.params[1] == "Телевизор 55″"
    assert json.loads(sent.tracker) == {"m": 21, "t": ""}  # its own failure would not loop
    await rig.channel.send(to, Rendered("Баланс", template="cashback.balance"), 22)
    assert await rig.next() is None  # no template for it: logged; the core's gate keeps such sends away
    assert len(wa.messages_to(USER)) == 1


async def test_the_numbers_throughput_and_the_pair_limit_throttle_without_faulting(wa: WhatsAppEmulator,
                                                                                   rig: Rig) -> None:
    await wa.user_text(USER, "Привет")
    to = (await rig.next()).account_id  # type: ignore[union-attr]
    wa.throughput.limit = 3
    await asyncio.sleep(1.0)
    results = await asyncio.gather(*(rig.channel.send(to, Rendered(f"№{i}"), i) for i in range(5)))
    throttled = [r for r in results if r.outcome is DeliveryOutcome.RETRY]
    assert len(throttled) == 2 and all(r.throttled and r.retry_after == 1.0 and r.detail.startswith("130429")
                                       for r in throttled)
    wa.throughput.limit, wa.pair.burst, wa.pair.interval = None, 1, 6.0
    assert (await rig.channel.send(to, Rendered("раз"), 10)).outcome is DeliveryOutcome.DELIVERED
    pair = await rig.channel.send(to, Rendered("два"), 11)
    assert pair.outcome is DeliveryOutcome.RETRY and pair.throttled and pair.retry_after is None  # no bot-wide pause
    assert pair.detail.startswith("131056")


async def test_refusals_and_faults_become_the_outcomes_the_outbox_acts_on(wa: WhatsAppEmulator, rig: Rig) -> None:
    wa.errors_in_statuses = False
    await wa.user_text(USER, "Привет")
    await wa.user_text(OTHER, "Привет")
    to, other = wa.bsuid_of(USER), wa.bsuid_of(OTHER)
    wa.block(OTHER)
    blocked = await rig.channel.send(other, Rendered("привет"), 1)
    assert blocked.outcome is DeliveryOutcome.UNREACHABLE and blocked.detail.startswith("131026")
    stranger = await rig.channel.send("RU.99999999", Rendered("привет"), 2)
    assert stranger.outcome is DeliveryOutcome.UNREACHABLE
    too_long_label = await rig.channel.send(to, Rendered("?", ((Button("callback", "Я" * 21, "x"),),)), 3)
    assert too_long_label.outcome is DeliveryOutcome.FAILED and too_long_label.detail.startswith("131009")
    revoked = WhatsAppChannel(settings_for(wa, token="revoked"), "webhook")
    wrong_token = await revoked.send(to, Rendered("привет"), 4)
    await revoked.close()
    assert wrong_token.outcome is DeliveryOutcome.FAILED and wrong_token.detail.startswith("190")
    assert wa.messages_to(USER) == [] and wa.messages_to(OTHER) == []
    port_holder = WhatsAppEmulator()
    gone = await port_holder.start()
    await port_holder.stop()  # a port where nothing answers
    away = WhatsAppChannel(settings_for(wa, api_base=gone), "webhook")
    assert (await away.send(to, Rendered("привет"), 5)).outcome is DeliveryOutcome.RETRY
    await away.close()
    slow = WhatsAppChannel(settings_for(wa, send_timeout=1), "webhook")
    wa.stall(2)
    try:
        started = time.monotonic()
        stalled = await slow.send(to, Rendered("привет"), 6)
        assert stalled.outcome is DeliveryOutcome.RETRY and not stalled.throttled  # a fault: health counts it
        assert time.monotonic() - started < 1.8  # given up at the send timeout, not when WhatsApp answered
    finally:
        wa.stall(None)
        await slow.close()


# settings ---------------------------------------------------------------------------------------


def test_settings_turn_the_channel_on_and_say_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN", "PHONE_ID", "APP_ID", "APP_SECRET", "VERIFY_TOKEN", "TEMPLATES", "PUBLIC_URL"):
        monkeypatch.delenv(f"WHATSAPP_{name}", raising=False)
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    assert not WhatsAppSettings(_env_file=None).enabled
    good = {"token": "t", "phone_id": "106540352242922", "app_secret": "s", "verify_token": VERIFY}
    WhatsAppSettings(_env_file=None, **good).check("webhook")
    for wrong, setting in (({"phone_id": ""}, "WHATSAPP_PHONE_ID"), ({"phone_id": "12/../x"}, "WHATSAPP_PHONE_ID"),
                           ({"app_secret": None}, "WHATSAPP_APP_SECRET"), ({"verify_token": "short"},
                                                                           "WHATSAPP_VERIFY_TOKEN"),
                           ({"app_id": "my-app"}, "WHATSAPP_APP_ID")):
        with pytest.raises(ValueError, match=setting):
            WhatsAppSettings(_env_file=None, **{**good, **wrong}).check("polling")
    monkeypatch.setenv("WHATSAPP_TOKEN", "t")
    monkeypatch.setenv("WHATSAPP_TEMPLATES", json.dumps({"draw.won": {"name": "prize_won", "params": ["prize"]}}))
    monkeypatch.setenv("PUBLIC_URL", "https://promo.example")
    from_env = WhatsAppSettings(_env_file=None)
    assert from_env.enabled and from_env.templates["draw.won"].language == "ru"
    assert from_env.public_url == "https://promo.example"
    channel = WhatsAppChannel(WhatsAppSettings(_env_file=None, **good, templates=from_env.templates), "webhook")
    assert channel.profile.window_templates == frozenset({"draw.won"})
    assert channel.profile.per_chat is not None and channel.profile.per_chat.per_second == pytest.approx(1 / 6)
    monkeypatch.setenv("WHATSAPP_TEMPLATES", json.dumps({"draw.won": {"name": "prize_won", "language": "xx"}}))
    with pytest.raises(ValueError):
        WhatsAppSettings(_env_file=None)
