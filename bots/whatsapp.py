"""WhatsApp Business through Meta's Cloud API and pywa 4.5: webhook updates -> the intake -> ``InboundEvent``; sends.

WhatsApp is blocked in Russia (2026): this channel is for brands running the promo outside Russia too, beside the
channels people in Russia use.

The Cloud API has no polling: updates come only to ``/webhook/whatsapp``. Its GET is Meta's handshake
(``hub.verify_token``); each POST is signed with the app secret (``X-Hub-Signature-256``), checked over the raw body
with pywa's own validator before anything is read: no signature gets 401, a wrong one 403, a body replayed after
WhatsApp's own retries are over 403. Then every message of our number (and every "failed" status of a message we
sent) is stored, and only then is 200 answered: a body that is no update gets 400, a database that is away 503
(Meta sends it again). With WHATSAPP_APP_ID and a public URL, ``start`` subscribes the app's webhook itself.

Sends go through pywa's client and its httpx session, pointed at WHATSAPP_API_BASE. People are known by their
business-scoped user id (BSUID), which every update carries even for people who hide their number behind a
username. Free-form messages reach a person only within 24 hours of their last message (the core's
``SessionWindow`` gate knows); outside it WhatsApp refuses them with 131047 — in the send's answer or, as Meta
does [I], in a failed status soon after — and the key's approved template (WHATSAPP_TEMPLATES) goes instead.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import httpx
from aiohttp import web
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from pywa.utils import Version, webhook_updates_validator
from pywa_async import WhatsApp

from bots.channel import ChannelPlugin, ChannelSettings, Mode, SandboxTwin
from bots.webhooks import MAX_WEBHOOK_BODY, BadBody, stored_then_ok
from bots.whatsapp_reading import Reader
from bots.whatsapp_sending import Sender
from bots.whatsapp_wire import WHATSAPP, ApprovedTemplate, is_envelope, split
from core.channels import ChannelProfile, TextFormat
from core.delivery import DeliveryResult
from core.events import InboundEvent
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry
from core.settings import http_url
from core.templates import Rendered

log = logging.getLogger(__name__)

# 80 messages/s per business number (Meta's standard throughput; pywa reports it as throughput.level), kept 4% below
# as the other channels are. To one person about one message per 6 s (131056 beyond), with short bursts allowed
# [I: Meta speaks of bursts up to 45]: three at once keep a conversation's replies quick.
DEFAULT_RATE = 76.8
PROFILE = ChannelProfile(WHATSAPP, "WhatsApp", TextFormat.HTML, max_text=4096, max_label=20, contact_button=True,
                         images=True, rate=Rate(DEFAULT_RATE), per_chat=Rate(1, seconds=6, burst=3),
                         session_window=timedelta(hours=24))
SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
CHALLENGE = re.compile(r"[0-9A-Za-z_-]{1,128}")
REPLAY_HORIZON = 8 * 86400  # Meta retries an unanswered webhook for up to 7 days [I]; anything older is a replay


class WhatsAppSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="WHATSAPP_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    token: SecretStr | None = None  # a system user's access token: turns the channel on
    phone_id: str = ""  # the business number's id (WhatsApp > API setup)
    app_id: str = ""
    app_secret: SecretStr | None = None  # signs every webhook body
    verify_token: SecretStr | None = None  # the webhook handshake's secret, any string we choose
    api_base: str = "https://graph.facebook.com"
    webhook_path: str = "/webhook/whatsapp"
    # where Meta reaches us; with WHATSAPP_APP_ID the channel subscribes <public url>/webhook/whatsapp itself
    public_url: str | None = Field(None, validation_alias=AliasChoices("WHATSAPP_PUBLIC_URL", "PUBLIC_URL",
                                                                       "public_url"))
    rate_per_second: float = Field(DEFAULT_RATE, gt=0)  # a number on a higher throughput tier may go faster
    send_timeout: int = Field(5, gt=0, le=120)  # unanswered by then: a fault, the router takes the next channel
    templates: dict[str, ApprovedTemplate] = Field(default_factory=dict)  # our key -> its approved template (JSON)

    _urls = field_validator("api_base", "public_url")(http_url)

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def check(self, mode: Mode) -> None:  # the Cloud API takes webhooks in either mode
        if not re.fullmatch(r"[0-9]{1,32}", self.phone_id):
            raise ValueError("WHATSAPP_PHONE_ID: the business number's id (digits), from WhatsApp > API setup")
        if self.app_secret is None:
            raise ValueError("WHATSAPP_APP_SECRET: needed to check the signature of every webhook")
        if self.verify_token is None or len(self.verify_token.get_secret_value()) < 16:
            raise ValueError("WHATSAPP_VERIFY_TOKEN: the webhook handshake needs a secret of 16+ characters")
        if self.app_id and not self.app_id.isdigit():
            raise ValueError("WHATSAPP_APP_ID: the app's id (digits)")


class WhatsAppChannel:
    def __init__(self, settings: WhatsAppSettings, mode: Mode) -> None:
        assert settings.token is not None and settings.app_secret is not None and settings.verify_token is not None
        self.settings, self.mode = settings, mode
        self.profile = replace(PROFILE, rate=Rate(settings.rate_per_second),
                               window_templates=frozenset(settings.templates))
        self.bot = f"whatsapp:{settings.phone_id}"
        self.session = httpx.AsyncClient(timeout=settings.send_timeout)
        self.wa = WhatsApp(phone_id=settings.phone_id, token=settings.token.get_secret_value(), session=self.session)
        # pywa aims its session at graph.facebook.com/v<its version>; the base setting (a proxy, our emulator)
        # takes the host's place, the version stays pywa's
        self.session.base_url = httpx.URL(f"{settings.api_base.rstrip('/')}/v{Version.GRAPH_API.value}/")
        self.sender = Sender(self.wa, settings.templates)
        self.reader = Reader(self.wa, settings.api_base, settings.templates, self.sender.template)

    # receiving ---------------------------------------------------------------------------

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        assert self.settings.app_secret is not None and self.settings.verify_token is not None
        secret = self.settings.app_secret.get_secret_value()
        verify = self.settings.verify_token.get_secret_value().encode()

        async def handshake(request: web.Request) -> web.Response:
            query, challenge = request.query, request.query.get("hub.challenge", "")
            given = query.get("hub.verify_token", "").encode()
            if query.get("hub.mode") == "subscribe" and hmac.compare_digest(given, verify) \
                    and CHALLENGE.fullmatch(challenge):
                return web.Response(text=challenge)
            return web.Response(status=403, text="wrong verify token")

        async def webhook(request: web.Request) -> web.Response:
            try:
                raw = await _raw_body(request)
            except BadBody as e:
                return e.response
            signature = request.headers.get("X-Hub-Signature-256", "")
            if not signature:
                return web.Response(status=401, text="the body is not signed")
            if not SIGNATURE.fullmatch(signature) or not webhook_updates_validator(secret, raw, signature):
                return web.Response(status=403, text="wrong signature")
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                return web.Response(status=400, text="the body is not JSON")
            if not is_envelope(body):
                return web.Response(status=400, text="not a WhatsApp Business Account update")
            batch = split(body, self.settings.phone_id, time.time() - REPLAY_HORIZON)
            if batch.stale and not batch.updates:
                log.warning("whatsapp: a signed body of %d messages older than the retries refused", batch.stale)
                return web.Response(status=403, text="a replayed update")
            return await stored_then_ok(intake, self.bot, batch.updates, "whatsapp: a webhook body")

        return [web.get(self.settings.webhook_path, handshake), web.post(self.settings.webhook_path, webhook)]

    async def start(self, intake: Intake) -> None:
        try:  # a wrong token or number shows in the log at start, not at the first send
            number = await self.wa.get_business_phone_number()
            log.info("whatsapp: number %s (%s)", number.display_phone_number, number.verified_name)
        except Exception as e:
            log.warning("whatsapp: the number could not be read (%s); going on", e)
        if self.settings.public_url and self.settings.app_id:
            await self._subscribe()
        else:
            log.info("whatsapp: updates are taken at %s; subscribe it in the app's dashboard (or set "
                     "WHATSAPP_APP_ID and a public URL)", self.settings.webhook_path)

    async def _subscribe(self) -> None:
        """``POST /{app-id}/subscriptions`` with the app's token: Meta checks the URL by the handshake first."""
        assert self.settings.public_url and self.settings.app_secret and self.settings.verify_token
        url = f"{self.settings.public_url.rstrip('/')}{self.settings.webhook_path}"
        try:
            app = int(self.settings.app_id)
            app_token = await self.wa.get_app_access_token(app, self.settings.app_secret.get_secret_value())
            await self.wa.set_app_callback_url(app, app_token, url, self.settings.verify_token.get_secret_value(),
                                               fields=("messages",))
            log.info("whatsapp: webhook subscribed at %s", url)
        except Exception as e:
            log.error("whatsapp: the webhook could not be subscribed (%s); WhatsApp sends nothing until it is", e)

    async def stop(self) -> None:
        return None  # nothing to stop: updates keep coming to the web app, which stops after us

    async def close(self) -> None:
        await self.reader.close()
        await self.session.aclose()

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        return await self.reader.read(entry)

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        return await self.sender.send(account_id, message, idempotency_key)


async def _raw_body(request: web.Request) -> bytes:
    """The exact bytes Meta signed, within the webhook size limit."""
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
        raise BadBody(413, "the body is too large")
    raw = await request.content.read(MAX_WEBHOOK_BODY + 1)
    if len(raw) > MAX_WEBHOOK_BODY:
        raise BadBody(413, "the body is too large")
    return raw


async def _sandbox(web_url: str) -> SandboxTwin:
    from bots.emulators.whatsapp_api import WhatsAppEmulator, WhatsAppSandboxChat

    # a number of its own per run, as OK's group: a restarted sandbox's message ids never meet the last run's
    emulator = WhatsAppEmulator(phone_id=str(10**14 + secrets.randbelow(10**14)))
    await emulator.start()
    emulator.approve("prize_won", "ru", "🎉 {{1}}: вы выиграли «{{2}}». Напишите нам до {{3}}, чтобы забрать приз.")
    settings = WhatsAppSettings(
        _env_file=None, token=emulator.token, phone_id=emulator.phone_id, app_id=emulator.app_id,
        app_secret=emulator.app_secret, verify_token=secrets.token_urlsafe(24), api_base=emulator.base_url,
        public_url=web_url,  # where the platform listens: the emulator's webhook goes there
        templates={"draw.won": ApprovedTemplate(name="prize_won", params=["campaign", "prize", "deadline"])})
    return SandboxTwin(settings, emulator.stop, WhatsAppSandboxChat(emulator), emulator)


PLUGIN = ChannelPlugin(WHATSAPP, WhatsAppSettings, WhatsAppChannel, PROFILE, _sandbox, ("pywa", "pywa_async", "httpx"))
