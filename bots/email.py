"""E-mail over SMTP (aiosmtplib): one rendered template becomes a text and an HTML part of one letter.

A letter's Message-ID is made from its outbox id, so a letter sent again after a crash is the
same letter to every mail system that de-duplicates. Each letter carries a List-Unsubscribe
header (a signed link that works with one click, RFC 8058) and the same link in its footer. A
recipient the server refuses for good (5xx: no such mailbox) makes the address unreachable
("bounced"); an unsubscribe does the same. Links in letters (unsubscribe, confirm the address,
"got it") come back to the web app, are checked (HMAC with ``EMAIL_LINK_SECRET``; the confirmation
link carries its own random token), and take effect in one transaction before the page answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import hashlib
import hmac
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from urllib.parse import urlencode

import aiosmtplib
from aiohttp import web
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode
from core import contacts
from core.channels import ChannelName, ChannelProfile, Identity, TextFormat
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult
from core.events import InboundEvent
from core.identity import normalise_email
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry, UnitOfWork
from core.templates import Button, Rendered

log = logging.getLogger(__name__)

EMAIL = ChannelName("email")
PROFILE = ChannelProfile(EMAIL, "E-mail", TextFormat.LETTER, max_text=100_000, max_label=60, identity=Identity.MAILBOX)

# headers are not folded before the line limit: a folded List-Unsubscribe reads back with a leading space
_WIRE = email.policy.compat32.clone(linesep="\r\n", max_line_length=998)
_WIRE_UTF8 = email.policy.SMTPUTF8.clone(max_line_length=998)
UNSUBSCRIBE, VERIFY, ACK = "/email/unsubscribe", "/email/verify", "/email/ack"
PAGE = """<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""


class EmailSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="EMAIL_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: str = Field("starttls", pattern="^(starttls|tls|none)$")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    from_address: str = "promo@example.com"
    from_name: str = "Promo"
    link_secret: SecretStr | None = None
    public_url: str = Field("http://127.0.0.1:8080", validation_alias=AliasChoices("EMAIL_PUBLIC_URL", "PUBLIC_URL",
                                                                                   "public_url"))
    connections: int = Field(4, ge=1, le=64)
    rate_per_second: float = Field(10.0, gt=0)
    cost_kopecks: int = Field(0, ge=0)
    timeout_seconds: float = Field(30.0, gt=0)

    @property
    def enabled(self) -> bool:
        return self.smtp_host is not None

    def check(self, mode: Mode) -> None:
        if self.link_secret is None or len(self.link_secret.get_secret_value()) < 16:
            raise ValueError("EMAIL_LINK_SECRET: e-mail links are signed with a secret of 16+ characters")
        normalise_email(self.from_address)


def sign(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


class EmailChannel:
    def __init__(self, settings: EmailSettings, mode: Mode) -> None:
        assert settings.smtp_host is not None and settings.link_secret is not None
        self.settings = settings
        self.secret = settings.link_secret.get_secret_value().encode()
        self.base_url = settings.public_url.rstrip("/")
        self.domain = settings.from_address.rsplit("@", 1)[-1]
        self.bot = f"email:{settings.from_address}"
        self.profile = replace(PROFILE, cost_kopecks=settings.cost_kopecks,
                               rate=Rate(settings.rate_per_second, burst=settings.connections))
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._slots = asyncio.Semaphore(settings.connections)

    # links -------------------------------------------------------------------------------

    def link(self, path: str, **params: str) -> str:
        signed = {**params, "t": sign(self.secret, path, *(f"{k}={v}" for k, v in sorted(params.items())))}
        return f"{self.base_url}{path}?{urlencode(signed)}"

    def _checked(self, request: web.Request, path: str, names: Sequence[str]) -> dict[str, str] | None:
        params = {name: request.query.get(name, "") for name in names}
        given = request.query.get("t", "")
        expected = sign(self.secret, path, *(f"{k}={v}" for k, v in sorted(params.items())))
        if not all(params.values()) or not hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return params

    # receiving: links followed -----------------------------------------------------------

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        """What a letter's links do, committed before the page answers (the effect is the acknowledgement)."""

        async def apply(work: Callable[[UnitOfWork, datetime], Awaitable[bool]]) -> bool | None:
            try:
                async with intake.store.transaction() as tx:
                    return await work(tx, intake.clock())
            except Exception:
                log.exception("email: a followed link could not be applied")
                return None

        def broken() -> web.Response:
            return page("Ссылка не работает", "Ссылка повреждена или устарела. Откройте её из письма ещё раз.",
                        status=400)

        def later() -> web.Response:
            return page("Попробуйте ещё раз", "Сейчас не получилось, обновите страницу через минуту.", status=503)

        async def unsubscribe_page(request: web.Request) -> web.Response:
            params = self._checked(request, UNSUBSCRIBE, ("a", "m"))
            if params is None:
                return broken()
            form = '<form method="post"><button type="submit">Отписаться от писем</button></form>'
            return page("Отписаться от писем?", f"Больше не присылать письма на {params['a']}?", form)

        async def unsubscribe(request: web.Request) -> web.Response:  # the page's button, or one-click (RFC 8058)
            params = self._checked(request, UNSUBSCRIBE, ("a", "m"))
            if params is None:
                return broken()
            done = await apply(lambda tx, now: contacts.unsubscribe(tx, EMAIL, params["a"], now))
            if done is None:
                return later()
            return page("Вы отписались", "Писем больше не будет. Сообщения в мессенджерах остаются.")

        async def verify(request: web.Request) -> web.Response:
            # the token itself is the secret (random, 192 bits, stored hashed): it needs no signature
            address, token = request.query.get("a", ""), request.query.get("k", "")
            if not (0 < len(address) <= 254 and 16 <= len(token) <= 64):
                return broken()
            done = await apply(lambda tx, now: contacts.verify_by_link(tx, EMAIL, address, token, now))
            if done is None:
                return later()
            if not done:
                return page("Ссылка устарела", "Запросите новый код в чате: /email.", status=410)
            return page("Адрес подтверждён", "Спасибо! Подтверждение придёт и в чат.")

        async def ack(request: web.Request) -> web.Response:
            params = self._checked(request, ACK, ("a", "m"))
            if params is None or not params["m"].isdigit():
                return broken()
            done = await apply(lambda tx, now: contacts.acknowledge(tx, EMAIL, params["a"], int(params["m"]), now))
            if done is None:
                return later()
            return page("Спасибо!", "Мы получили ваш ответ." if done else "Это сообщение уже не ждёт ответа.")

        return [web.get(UNSUBSCRIBE, unsubscribe_page), web.post(UNSUBSCRIBE, unsubscribe), web.get(VERIFY, verify),
                web.get(ACK, ack)]

    async def start(self, intake: Intake) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        return None  # nothing arrives through the intake: a letter's links act at once (``routes``)

    # sending -----------------------------------------------------------------------------

    def letter(self, address: str, message: Rendered, message_id: int) -> bytes:
        """The letter as it goes on the wire."""
        unsubscribe = self.link(UNSUBSCRIBE, a=address, m=str(message_id))
        links = [(b.label, self._button_link(b, address, message_id)) for row in message.buttons for b in row]
        links = [(label, url) for label, url in links if url]
        text = message.text + "".join(f"\n{label}: {url}" for label, url in links)
        text = f"{text}\n\n--\nОтписаться от писем: {unsubscribe}\n"
        body = message.html_body or f"<p>{html.escape(message.text)}</p>"
        buttons = "".join(f'<p><a href="{html.escape(url)}">{html.escape(label)}</a></p>' for label, url in links)
        footer = (f'<hr><p style="font-size:small"><a href="{html.escape(unsubscribe)}">Отписаться от писем</a>'
                  "</p>")
        body = body.replace("</body>", f"{buttons}{footer}</body>")
        subject, sender = message.subject or "…", (self.settings.from_name, self.settings.from_address)
        letter: Message
        if address.isascii():  # the classic MIME classes build a letter five times faster (broadcasts)
            letter = MIMEMultipart("alternative")
            letter["From"] = formataddr(sender, charset="utf-8")
            letter["Subject"] = Header(subject, "utf-8")
            letter.attach(MIMEText(text, "plain", "utf-8"))
            letter.attach(MIMEText(body, "html", "utf-8"))
        else:  # an internationalised address needs SMTPUTF8, which only the newer classes write
            letter = EmailMessage(policy=_WIRE_UTF8)
            letter["From"] = formataddr(sender)
            letter["Subject"] = subject
            letter.set_content(text)
            letter.add_alternative(body, subtype="html")
        letter["To"] = address
        letter["Date"] = formatdate(usegmt=True)
        letter["Message-ID"] = f"<outbox-{message_id}@{self.domain}>"
        letter["List-Unsubscribe"] = f"<{unsubscribe}>"
        letter["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return letter.as_bytes(policy=_WIRE if address.isascii() else _WIRE_UTF8)

    def _button_link(self, button: Button, address: str, message_id: int) -> str | None:
        if button.kind == "url":
            return button.url
        if button.kind == "callback" and button.payload.startswith("/ack "):
            return self.link(ACK, a=address, m=button.payload.removeprefix("/ack ").strip())
        return None  # a chat button means nothing in a letter

    async def _client(self) -> aiosmtplib.SMTP:
        if not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                return client
        s = self.settings
        client = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, timeout=s.timeout_seconds,
                                 use_tls=s.smtp_security == "tls",
                                 start_tls=s.smtp_security == "starttls")
        await client.connect()
        if s.smtp_username and s.smtp_password is not None:
            await client.login(s.smtp_username, s.smtp_password.get_secret_value())
        return client

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        letter = self.letter(account_id, message, idempotency_key)
        async with self._slots:
            client: aiosmtplib.SMTP | None = None
            try:
                client = await self._client()
                await client.sendmail(self.settings.from_address, [account_id], letter,
                                      mail_options=None if account_id.isascii() else ["SMTPUTF8"])
            except aiosmtplib.SMTPRecipientsRefused as e:
                refusal = e.recipients[0] if e.recipients else None
                code, text = (refusal.code, refusal.message) if refusal else (0, str(e))
                return refused(code, text)
            except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as e:
                return refused(e.code, e.message, permanent=DeliveryOutcome.FAILED)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
                if client is not None:
                    client.close()
                    client = None
                return DeliveryResult(DeliveryOutcome.RETRY, detail=f"smtp: {e!r}"[:300])
            finally:
                if client is not None and client.is_connected:
                    self._idle.put_nowait(client)
        return DELIVERED


def refused(code: int, text: str, permanent: DeliveryOutcome = DeliveryOutcome.UNREACHABLE) -> DeliveryResult:
    detail = f"{code} {text}".strip()[:200]
    if 500 <= code < 600:
        return DeliveryResult(permanent, detail=f"bounced: {detail}" if permanent is DeliveryOutcome.UNREACHABLE
                              else detail)
    return DeliveryResult(DeliveryOutcome.RETRY, detail=detail)


def page(title: str, text: str, form: str = "", status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(title=html.escape(title), text=html.escape(text), form=form),
                        content_type="text/html", status=status)


PLUGIN = ChannelPlugin(EMAIL, EmailSettings, EmailChannel, PROFILE)
