"""The web chat on the platform's own site, as a channel: a page, a JSON endpoint to send, one to read.

A browser is an account: a random token in an HttpOnly cookie, of which only a hash is the
account's id (a copy of the database opens no chat). A person arrives from a signed link the bot
gives (``/chat?t=…``: the page hands the token to the core, which joins this browser to them), or
signs in with e-mail and a code inside the chat itself. What the person types goes through the
durable intake like any channel's updates; what we send is the outbox row itself (delivered =
stored for the page), read back and rendered for this channel when the page polls.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode, SandboxTwin
from bots.webchat_scan import WebChatMiniApp
from bots.webhooks import BadBody, json_body
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import DELIVERED, DeliveryResult, MessageStatus
from core.events import InboundEvent
from core.intake import Intake
from core.ports import InboxEntry, NewUpdate
from core.templates import Rendered, Templates

log = logging.getLogger(__name__)

WEBCHAT = ChannelName("webchat")
# its «📷 Сканировать QR» is a link to the scanner page in the same browser (``bots.webchat_scan``)
PROFILE = ChannelProfile(WEBCHAT, "Web chat", TextFormat.PLAIN, max_text=4000, max_label=48, selectable=False,
                         site_chat=True, mini_app=True)
COOKIE = "webchat"
MAX_TEXT = 2000
HISTORY = 100
SENDS_PER_MINUTE = 30
PAGE = Path(__file__).parent / "web" / "static" / "webchat.html"
SCRIPT = Path(__file__).parent / "web" / "static" / "webchat.js"
HEADERS = {"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class WebChatSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="WEBCHAT_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore")

    on: bool = Field(False, alias="WEBCHAT_ENABLED")
    secure_cookie: bool = False  # behind HTTPS
    secret: SecretStr | None = None  # WEBCHAT_SECRET: signs the scanner's launches too (a new one each start)

    @property
    def enabled(self) -> bool:
        return self.on


def account_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:40]


class WebChat:
    profile = PROFILE
    bot = "webchat:site"

    def __init__(self, settings: WebChatSettings, mode: Mode) -> None:
        self.settings = settings
        self.templates = Templates.load()
        self._sends: dict[str, deque[float]] = defaultdict(deque)
        secret = settings.secret.get_secret_value().encode() if settings.secret else secrets.token_bytes(32)
        self.mini_app = WebChatMiniApp(WEBCHAT, self.bot, secret)

    # receiving ---------------------------------------------------------------------------

    def _token(self, request: web.Request) -> str | None:
        token = request.cookies.get(COOKIE)
        return token if token and 20 <= len(token) <= 100 else None

    def _new_browser(self, response: web.StreamResponse) -> str:
        token = secrets.token_urlsafe(32)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=self.settings.secure_cookie,
                            path="/chat", max_age=30 * 24 * 3600)
        return token

    def _flooding(self, account: str) -> bool:
        sent, now = self._sends[account], time.monotonic()
        while sent and now - sent[0] > 60:
            sent.popleft()
        if len(sent) >= SENDS_PER_MINUTE:
            return True
        sent.append(now)
        return False

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        async def store_update(account: str, raw: dict[str, Any]) -> None:
            await intake.receive(self.bot, [NewUpdate(uuid.uuid4().hex, account, {**raw, "from": account})])

        async def page(request: web.Request) -> web.StreamResponse:
            link = request.query.get("t")
            if link is not None:
                # a fresh browser identity, and the token moves to the fragment: the page's script hands it back.
                # A GET signs nobody in, since a link is used once and a messenger's preview fetcher GETs it first.
                response = web.HTTPFound("/chat#t=" + quote(link[:200], safe=""))
                self._new_browser(response)
                for name, value in HEADERS.items():
                    response.headers[name] = value
                raise response
            response = web.FileResponse(PAGE, headers=HEADERS)
            if self._token(request) is None:
                self._new_browser(response)
            return response

        async def script(_: web.Request) -> web.StreamResponse:
            return web.FileResponse(SCRIPT, headers=HEADERS)

        async def send(request: web.Request) -> web.Response:
            token = self._token(request)
            if token is None or request.headers.get("X-Requested-With") != "webchat":
                return web.json_response({"error": "no chat session"}, status=403)
            try:
                body = await json_body(request)
            except BadBody as e:
                return e.response
            text = body.get("text") if isinstance(body, dict) else None
            payload = body.get("payload") if isinstance(body, dict) else None
            if not (isinstance(text, str) and text.strip()) and not (isinstance(payload, str) and payload):
                return web.json_response({"error": "empty"}, status=400)
            account = account_of(token)
            if self._flooding(account):
                return web.json_response({"error": "too many messages, wait a minute"}, status=429)
            raw = {"payload": payload[:64]} if isinstance(payload, str) and payload else {"text": str(text)[:MAX_TEXT]}
            raw["locale"] = request.headers.get("Accept-Language", "")[:2].lower()
            try:
                await store_update(account, raw)
            except Exception:
                log.exception("webchat: a message could not be stored")
                return web.json_response({"error": "try again"}, status=503)
            return web.json_response({"ok": True})

        async def messages(request: web.Request) -> web.Response:
            token = self._token(request)
            if token is None:
                return web.json_response({"messages": []})
            return web.json_response({"messages": await self._history(intake, account_of(token))})

        async def leave(request: web.Request) -> web.Response:
            if request.headers.get("X-Requested-With") != "webchat":
                return web.json_response({"error": "no chat session"}, status=403)
            response = web.json_response({"ok": True})
            response.del_cookie(COOKIE, path="/chat")
            return response

        return [web.get("/chat", page), web.get("/chat/webchat.js", script), web.post("/chat/send", send),
                web.get("/chat/messages", messages), web.post("/chat/leave", leave)]

    async def _history(self, intake: Intake, account: str) -> list[dict[str, Any]]:
        async with intake.store.transaction() as tx:
            found = await tx.people.find_by_account(WEBCHAT, account)
            if found is None:
                return []
            person = found[1]
            inbound = [m for m in await tx.messages.inbound(person.id)
                       if m.channel == WEBCHAT and m.account_id == account and not m.body.startswith("/chat_login")]
            outbound = [e for e in await tx.messages.entries(person.id)
                        if e.channel == WEBCHAT and e.account_id == account and e.status is MessageStatus.SENT]
        items: list[dict[str, Any]] = [{"at": m.created_at.isoformat(), "from": "person", "text": m.body}
                                       for m in inbound[-HISTORY:]]
        for entry in outbound[-HISTORY:]:
            try:
                rendered = self.templates.render(entry.template, PROFILE, person.locale, entry.params)
            except Exception:  # an erased message has no parameters left
                continue
            items.append({"at": entry.created_at.isoformat(), "from": "us", "text": rendered.text, "buttons": [
                [{"label": b.label, "payload": b.payload, "url": b.url} if b.kind != "app" else
                 {"label": b.label, "payload": "", "url": self.mini_app.link_for(account, datetime.now(UTC))}
                 for b in row] for row in rendered.buttons]})
        return sorted(items, key=lambda item: item["at"])[-HISTORY:]

    async def start(self, intake: Intake) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        raw = entry.raw
        account = str(raw.get("from") or entry.account_id or "")
        if not account:
            return None
        extra = {"update_id": entry.update_id, "locale_hint": raw.get("locale") or None}
        if raw.get("payload"):
            return InboundEvent.button(WEBCHAT, account, str(raw["payload"]), **extra)
        return InboundEvent.from_text(WEBCHAT, account, str(raw.get("text", "")), **extra)

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        return DELIVERED  # the outbox row is the chat's mailbox: the page reads it when it polls


async def _sandbox(web_url: str) -> SandboxTwin:
    async def nothing_to_stop() -> None:
        return None

    # the site's own chat needs no emulator: the sandbox turns it on as it is
    return SandboxTwin(WebChatSettings(_env_file=None, WEBCHAT_ENABLED=True), nothing_to_stop)


PLUGIN = ChannelPlugin(WEBCHAT, WebChatSettings, WebChat, PROFILE, _sandbox)
