"""E-mail and SMS as real channels: the platform (``run.bootstrap``) writes to a local SMTP server (aiosmtpd, started
here) and to the SMS gateway emulator, with Telegram and VK on theirs; people verify an address and a number,
follow the links letters carry, unsubscribe, and bounces make an address unreachable."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from bots.email import EMAIL
from bots.emulators.sms_gateway import API_KEY, SmsGateway
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.sms import SMS
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from tests.platform import eventually, platform_settings, point_channels_at, started
from tests.test_crash import free_port

TG_USER, VK_USER = 1001, 2001
LINK_SECRET = "e-mail-links-secret-for-tests"


@dataclass
class Mailbox:
    """What the SMTP server took; addresses in ``bounce`` are refused for good (550), in ``busy`` for now (451)."""

    letters: list[EmailMessage] = field(default_factory=list)
    bounce: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if address in self.bounce:
            return "550 5.1.1 mailbox unavailable"
        if address in self.busy:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        self.letters.append(parsed)  # type: ignore[arg-type]
        self.arrived.set()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [letter for letter in self.letters if letter["To"] == address]


def text_of(letter: EmailMessage) -> str:
    part = letter.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


def html_of(letter: EmailMessage) -> str:
    part = letter.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


@pytest.fixture
async def outside(tmp_path, monkeypatch):
    """The SMTP server, the SMS gateway, Telegram and VK, with the platform's channels pointed at them."""
    monkeypatch.chdir(tmp_path)
    mailbox = Mailbox()
    smtp_server = await asyncio.get_running_loop().create_server(lambda: SMTP(mailbox), "127.0.0.1", 0)
    smtp_port = smtp_server.sockets[0].getsockname()[1]
    telegram, vk, gateway = TelegramEmulator(), VkEmulator(), SmsGateway()
    for server in (telegram, vk, gateway):
        await server.start()
    point_channels_at(monkeypatch, telegram, vk, EMAIL_SMTP_HOST="127.0.0.1", EMAIL_SMTP_PORT=str(smtp_port),
                      EMAIL_SMTP_SECURITY="none", EMAIL_LINK_SECRET=LINK_SECRET,
                      EMAIL_FROM_ADDRESS="promo@shop.example",
                      SMS_API_KEY=API_KEY, SMS_API_BASE=gateway.base_url, SMS_PROVIDER="smsru")
    yield mailbox, telegram, vk, gateway
    for server in (telegram, vk, gateway):
        await server.stop()
    smtp_server.close()
    await smtp_server.wait_closed()


@pytest.fixture
async def platform(tmp_path, outside, monkeypatch):
    _, _, vk, _ = outside
    port = free_port()  # the letters' links name the web app's address, so it is known before the start
    monkeypatch.setenv("EMAIL_PUBLIC_URL", f"http://127.0.0.1:{port}")
    running = await started(platform_settings(tmp_path, quiet_hours="off", web_port=port), vk)
    yield running
    await running.stop()


async def register_in_telegram(telegram: TelegramEmulator, email_address: str | None = None) -> None:
    steps: list[tuple[str, Any]] = [("text", "/start"), ("press", "consent:yes"), ("text", "Анна Петрова"),
                                    ("contact", "+79123456789"),
                                    ("text", email_address) if email_address else ("press", "email:skip")]
    for count, (kind, value) in enumerate(steps, start=1):
        if kind == "text":
            await telegram.user_text(TG_USER, value)
        elif kind == "press":
            await telegram.user_press(TG_USER, value)
        else:
            await telegram.user_contact(TG_USER, value)
        await telegram.wait_for_messages(TG_USER, count)


async def register_in_vk(vk: VkEmulator) -> None:
    for count, (text, payload) in enumerate([("Начать", None), ("Согласен", '{"p": "consent:yes"}'),
                                             ("Иван Сидоров", None), ("+7 999 000-11-22", None),
                                             ("Пропустить", '{"p": "email:skip"}')], start=1):
        if payload:
            await vk.user_press(VK_USER, payload, text)
        else:
            await vk.user_text(VK_USER, text)
        await vk.wait_for_messages(VK_USER, count)


async def account(platform, channel, address):
    async with platform.store.transaction() as tx:
        found = await tx.people.find_by_account(channel, address)
    assert found is not None
    return found


async def test_an_address_is_verified_by_the_code_in_a_letter(platform, outside) -> None:
    mailbox, telegram, _, _ = outside
    await register_in_telegram(telegram)
    await telegram.user_text(TG_USER, "/email")
    await telegram.wait_for_messages(TG_USER, 6)
    assert "e-mail" in telegram.messages_to(TG_USER)[-1].text
    await telegram.user_text(TG_USER, "anna@shop.example")
    await telegram.wait_for_messages(TG_USER, 7)
    assert "anna@shop.example" in telegram.messages_to(TG_USER)[-1].text
    await eventually(lambda: mailbox.to("anna@shop.example"))
    [letter] = mailbox.to("anna@shop.example")
    code = re.search(r"\b(\d{6})\b", text_of(letter)).group(1)  # type: ignore[union-attr]
    assert letter["Subject"] == "Подтверждение адреса e-mail"
    assert re.fullmatch(r"<outbox-\d+@shop\.example>", letter["Message-ID"])
    assert letter["List-Unsubscribe"].startswith(f"<{platform.web_url}/email/unsubscribe?")
    assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"<b>{code}</b>" in html_of(letter) and "Отписаться от писем" in html_of(letter)
    await telegram.user_text(TG_USER, "000000" if code != "000000" else "111111")
    await telegram.wait_for_messages(TG_USER, 9)  # "wrong, 4 left" and the question again
    assert "Осталось попыток: 4" in telegram.messages_to(TG_USER)[-2].text
    await telegram.user_text(TG_USER, code)
    await telegram.wait_for_messages(TG_USER, 10)
    assert "подтверждён" in telegram.messages_to(TG_USER)[-1].text
    address, person = await account(platform, EMAIL, "anna@shop.example")
    assert address.verified and person.email == "anna@shop.example" and person.email_verified


async def test_following_the_letters_link_verifies_and_unsubscribing_stops_letters(platform, outside) -> None:
    mailbox, telegram, _, _ = outside
    await register_in_telegram(telegram)
    await telegram.user_text(TG_USER, "/email anna@shop.example")
    await eventually(lambda: mailbox.to("anna@shop.example"))
    html = html_of(mailbox.to("anna@shop.example")[0])
    link = re.search(r'href="([^"]*/email/verify[^"]*)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as answer:
            assert answer.status == 200 and "подтверждён" in await answer.text()
        async with http.get(link) as again:  # a link works once
            assert again.status == 410
        async with http.get(link.replace("k=", "k=x")) as forged:
            assert forged.status in (400, 410)
    await eventually(lambda: any("anna@shop.example подтверждён" in m.text for m in telegram.messages_to(TG_USER)))
    address, _ = await account(platform, EMAIL, "anna@shop.example")
    assert address.verified

    async with platform.store.transaction() as tx:  # a notice placed by the router, preferring e-mail
        await tx.routes.prefer(address.person_id, EMAIL, platform.engine.clock())
        tx.messages.enqueue(OutgoingMessage(address.person_id, "notify.announcement", {"text": "Новый розыгрыш!"},
                                            "ru"), platform.engine.clock())
    platform.outbox.wake()
    await eventually(lambda: len(mailbox.to("anna@shop.example")) == 2)
    notice = mailbox.to("anna@shop.example")[1]
    assert "Новый розыгрыш!" in text_of(notice) and notice["Subject"] == "Новости акции"
    unsubscribe = notice["List-Unsubscribe"].strip("<>")
    async with aiohttp.ClientSession() as http:
        async with http.post(unsubscribe.replace("&m=", "&m=9")) as forged:
            assert forged.status == 400
        async with http.post(unsubscribe, data="List-Unsubscribe=One-Click") as answer:
            assert answer.status == 200 and "отписались" in await answer.text()
    address, _ = await account(platform, EMAIL, "anna@shop.example")
    assert address.unreachable_since is not None and address.unreachable_reason == "unsubscribed"
    await eventually(lambda: "отписались от писем" in telegram.messages_to(TG_USER)[-1].text)


async def test_a_bounced_address_is_unreachable_and_the_notice_goes_by_sms(platform, outside) -> None:
    mailbox, telegram, _, gateway = outside
    await register_in_telegram(telegram)
    await telegram.user_text(TG_USER, "/email anna@shop.example")
    await eventually(lambda: mailbox.to("anna@shop.example"))
    code = re.search(r"\b(\d{6})\b", text_of(mailbox.to("anna@shop.example")[0])).group(1)  # type: ignore[union-attr]
    await telegram.user_text(TG_USER, code)
    await eventually(lambda: "подтверждён" in telegram.messages_to(TG_USER)[-1].text)
    telegram.block(TG_USER)
    mailbox.bounce.add("anna@shop.example")
    _, person = await account(platform, EMAIL, "anna@shop.example")
    async with platform.store.transaction() as tx:
        queued = tx.messages.enqueue(OutgoingMessage(person.id, "notify.announcement", {"text": "Вы выиграли приз"},
                                                     "ru"), platform.engine.clock())
    platform.outbox.wake()
    await eventually(lambda: gateway.to("+79123456789"))
    [sms] = gateway.to("+79123456789")
    assert sms.text == "Вы выиграли приз" and (sms.encoding, sms.parts) == ("ucs2", 1)
    email_account, _ = await account(platform, EMAIL, "anna@shop.example")
    assert email_account.unreachable_reason.startswith("bounced: 550")
    async with platform.store.transaction() as tx:
        [decision] = await tx.routes.decisions(message_id=queued.id)
        [entry] = [e for e in await tx.messages.entries(person.id) if e.id == queued.id]
    assert [(c.channel, (c.outcome or "").split(" ")[0]) for c in decision.candidates] == [
        ("telegram", "unreachable"), ("email", "unreachable"), ("sms", "delivered")]
    assert entry.status is MessageStatus.SENT and entry.channel == SMS


async def test_a_vk_only_person_verifies_the_phone_by_sms_and_can_ask_for_a_payout(platform, outside) -> None:
    _, _, vk, gateway = outside
    await register_in_vk(vk)
    await vk.user_text(VK_USER, "/payout")
    await vk.wait_for_messages(VK_USER, 6)
    await vk.user_text(VK_USER, "/phone")
    await vk.wait_for_messages(VK_USER, 7)
    assert "SMS" in vk.messages_to(VK_USER)[-1].text
    await eventually(lambda: gateway.to("+79990001122"))
    [sms] = gateway.to("+79990001122")
    code = re.search(r"\b(\d{6})\b", sms.text).group(1)  # type: ignore[union-attr]
    assert sms.parts == 1 and "<b>" not in sms.text
    await vk.user_text(VK_USER, code)
    await vk.wait_for_messages(VK_USER, 8)
    assert "подтверждён" in vk.messages_to(VK_USER)[-1].text
    phone, person = await account(platform, SMS, "+79990001122")
    assert phone.verified and person.phone_verified
    await vk.user_text(VK_USER, "/phone")
    await vk.wait_for_messages(VK_USER, 9)
    assert "уже подтверждён" in vk.messages_to(VK_USER)[-1].text


async def test_codes_are_limited_per_person(platform, outside) -> None:
    _, _, vk, gateway = outside
    await register_in_vk(vk)
    for count in range(6, 9):
        await vk.user_text(VK_USER, "/phone")
        await vk.wait_for_messages(VK_USER, count)
    await eventually(lambda: len(gateway.to("+79990001122")) == 3)
    await vk.user_text(VK_USER, "/phone")
    await vk.wait_for_messages(VK_USER, 9)
    assert "Слишком много кодов" in vk.messages_to(VK_USER)[-1].text
    await asyncio.sleep(0.2)
    assert len(gateway.to("+79990001122")) == 3


@pytest.mark.parametrize("address", ["anna@shop.example", "иван@почта.рф"])
def test_a_letter_reads_back_as_written_for_plain_and_international_addresses(address: str) -> None:
    from bots.email import EmailChannel, EmailSettings
    from core.templates import Rendered

    channel = EmailChannel(EmailSettings(_env_file=None, smtp_host="127.0.0.1", link_secret="letters-secret-123",
                                         from_name="Промо «Молоко»", from_address="promo@shop.example"), "polling")
    wire = channel.letter(address, Rendered("Вы выиграли приз " * 20, subject="Вы выиграли — подтвердите",
                                            html_body="<html><body><p>Приз</p></body></html>"), 42)
    # an internationalised address goes as raw UTF-8 (SMTPUTF8); Python's parser reads such headers from text only
    letter = (email.message_from_bytes(wire, policy=email.policy.default) if address.isascii()
              else email.message_from_string(wire.decode("utf-8"), policy=email.policy.default))
    assert letter["To"] == address and letter["Subject"] == "Вы выиграли — подтвердите"
    assert letter["From"].addresses[0].display_name == "Промо «Молоко»"
    assert letter["Message-ID"] == "<outbox-42@shop.example>"
    assert str(letter["List-Unsubscribe"]).startswith("<http") and b"\r\n\r\n" in wire
    if address.isascii():
        assert "Вы выиграли приз" in text_of(letter) and "Отписаться" in text_of(letter)  # type: ignore[arg-type]
        assert "<p>Приз</p>" in html_of(letter)  # type: ignore[arg-type]
    else:  # and its parts as 8-bit UTF-8, which the text parser leaves undecoded
        assert all(words in wire.decode("utf-8") for words in ("Вы выиграли приз", "Отписаться", "<p>Приз</p>"))
