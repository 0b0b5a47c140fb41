"""MAX through maxapi's ``Bot`` (its calls only: our intake and outbox stand where its Dispatcher would):
updates -> the intake -> ``InboundEvent``; rendered messages -> ``POST /messages``.

The token goes in ``Authorization`` as it is (no ``Bearer``). Polling mode (local runs, the sandbox): MAX's
long poll gets nothing while a webhook subscription exists, so ours are deleted first (logged), then
``bots.max_updates`` polls, acknowledging only what is stored. Webhook mode: with ``MAX_PUBLIC_URL`` (or
``PUBLIC_URL``) the channel subscribes ``<it>/webhook/max`` itself, over HTTPS, as MAX requires; each POST
must carry our secret in ``X-Max-Bot-Api-Secret`` (checked in constant time, else 401 and nothing stored),
is stored, and only then answered 200 (MAX sends it again otherwise): a body that is not an update gets
400, a database that is away 503. A stored update is read back by ``bots.max_reading``.

Sends are HTML (MAX's ``format: html``), every button inline (``bots.max_wire``). The profile's rates keep
the outbox below MAX's 30 requests a second per token and 2 a second per chat; ``bots.max_wire.Pace`` holds
every request (answers, polls and uploads too) within them in this process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePath
from urllib.parse import urlsplit

from aiohttp import web
from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.enums.parse_mode import TextFormat as MaxFormat
from maxapi.enums.upload_type import UploadType
from maxapi.exceptions.base import MaxError
from maxapi.types.attachments.upload import AttachmentUpload
from maxapi.types.input_media import InputMediaBuffer
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode, SandboxTwin
from bots.max_reading import MAX, UpdateReader
from bots.max_updates import UPDATE_TYPES, WAIT, UpdatePoller, is_update, stored
from bots.max_wire import NETWORK, Pace, keyboard, outcome
from bots.webhooks import BadBody, json_body, stored_then_ok
from core.channels import ChannelProfile, TextFormat
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult
from core.events import InboundEvent
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry
from core.settings import http_url
from core.templates import Rendered

log = logging.getLogger(__name__)

# 30 requests/s per token, every request counted [I]: kept 4% below, as Telegram's 28.8 of 30 and VK's 19.2 of 20;
# while long polling, 2 of the 30 are the polls' (``POLL_GAP``) and sends go at 27.6: the limiter lets
# 1 + floor(27.6 + 0.15) = 28 into a second, just what ``Pace`` admits (30 - 2), so sends never queue in ``Pace``,
# where a reply would wait behind a broadcast. 2 messages/s per chat:
# the limiter's catch-up lets 1 + floor(rate + 0.15) sends into a second, so at 2/s a third would come 0.93 s
# after the first; at 1.8/s it comes 1.03 s after. maxapi refuses a text of 4000 characters or more (MAX
# documents "up to 4000"), and documents labels of 1-64 characters.
DEFAULT_RATE = 28.8
POLLING_RATE = 27.6
PROFILE = ChannelProfile(MAX, "MAX", TextFormat.HTML, max_text=3999, max_label=64, contact_button=True,
                         images=True, rate=Rate(DEFAULT_RATE), per_chat=Rate(1.8))
PER_CHAT = 2  # messages to one chat a second, answers to presses included
PER_TOKEN = 30  # requests a second
POLLS = 2  # of them the long polls' at most, while polling (``POLL_GAP``)
SECRET_HEADER = "X-Max-Bot-Api-Secret"
SECRET = re.compile(r"[A-Za-z0-9-]{16,256}")  # MAX takes 5-256 of these characters; fewer than 16 we refuse
ACK = "✓"  # MAX refuses an empty answer to a press (400); the real reply comes through the outbox
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# maxapi warns of every plain-HTTP webhook; ``MaxSettings.check`` lets through only a loopback one (local runs)
warnings.filterwarnings("ignore", message="URL вебхука не использует HTTPS", module=r"maxapi\.")


class MaxSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="MAX_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    bot_token: SecretStr | None = None
    api_base: str = "https://platform-api2.max.ru"
    webhook_secret: str = ""
    webhook_path: str = "/webhook/max"
    # where MAX can reach us: in webhook mode the channel subscribes PUBLIC_URL/webhook/max itself
    public_url: str | None = Field(None, validation_alias=AliasChoices("MAX_PUBLIC_URL", "PUBLIC_URL", "public_url"))
    rate_per_second: float | None = Field(None, gt=0)  # unset: DEFAULT_RATE, or POLLING_RATE while polling
    # a send MAX has not answered by then counts as a network fault (the channel's health sees it), as Telegram's
    send_timeout: int = Field(5, gt=0, le=120)

    _urls = field_validator("api_base", "public_url")(http_url)

    @property
    def enabled(self) -> bool:  # a blank MAX_BOT_TOKEN= (an .env template's) leaves it off
        return bool(self.bot_token and self.bot_token.get_secret_value())

    def check(self, mode: Mode) -> None:
        if mode != "webhook":
            return
        if not SECRET.fullmatch(self.webhook_secret):
            raise ValueError("MAX_WEBHOOK_SECRET: webhook mode needs 16-256 letters, digits or '-'")
        parts = urlsplit(self.public_url or "https://")
        if parts.scheme != "https" and parts.hostname not in LOOPBACK:
            raise ValueError("MAX_PUBLIC_URL: MAX sends webhooks over HTTPS only")


class MaxChannel:
    def __init__(self, settings: MaxSettings, mode: Mode) -> None:
        assert settings.bot_token is not None
        rate = settings.rate_per_second or (POLLING_RATE if mode == "polling" else DEFAULT_RATE)
        self.profile = replace(PROFILE, rate=Rate(rate))
        token = settings.bot_token.get_secret_value()
        # no retries inside maxapi (the outbox and the poller retry); its session waits out a long poll
        self.api = Bot(token, auto_requests=False, default_connection=DefaultConnectionProperties(
            timeout=WAIT + 15, sock_connect=10, max_retries=0))
        self.api.set_api_url(settings.api_base)
        self.bot = f"max:{hashlib.sha256(token.encode()).hexdigest()[:16]}"  # its id is only known by asking
        self.settings, self.mode = settings, mode
        # the token's requests but the polls' (at most 2/s: ``POLL_GAP``), which take no place here — a poll
        # waiting its turn behind a broadcast's sends would hold every person's next message back
        self.pace = Pace(max(1, math.floor(min(rate / 0.96, PER_TOKEN - (0 if mode == "webhook" else POLLS))
                                           + 0.5)), PER_CHAT)
        self.reader = UpdateReader(self._answer, settings.api_base)
        self._polling: asyncio.Task[None] | None = None

    # receiving ---------------------------------------------------------------------------

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        if self.mode != "webhook":
            return []
        secret = self.settings.webhook_secret.encode()

        async def webhook(request: web.Request) -> web.Response:
            if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret):
                return web.Response(status=401, text="wrong secret")
            try:
                update = await json_body(request)
            except BadBody as e:
                return e.response
            try:
                if not is_update(update):
                    raise ValueError(update)
                new = stored(update)
            except (ValueError, RecursionError):  # nested too deep to take a digest of: no update of MAX's either
                return web.Response(status=400, text="not a MAX update")
            return await stored_then_ok(intake, self.bot, [new], "max: a webhook update")

        return [web.post(self.settings.webhook_path, webhook)]

    async def start(self, intake: Intake) -> None:
        await self._greet()
        if self.mode == "polling":
            await self._unsubscribe()
            self._polling = asyncio.create_task(UpdatePoller(self.api, intake, self.bot, _at_once).run())
        elif self.settings.public_url:
            await self._subscribe()
        else:
            log.warning("max: webhook mode without MAX_PUBLIC_URL: subscribe %s yourself", self.settings.webhook_path)

    async def _greet(self) -> None:
        """Ask whose token this is: a wrong token shows in the log at start, not at the first send."""
        try:
            async with self.pace.held(), asyncio.timeout(5):
                me = await self.api.get_me()
            log.info("max: bot @%s (%s)", me.username, me.user_id)
        except (MaxError, ValidationError, *NETWORK) as e:
            log.warning("max: GET /me failed (%r); going on", e)

    async def _unsubscribe(self) -> None:
        try:
            async with self.pace.held(), asyncio.timeout(self.settings.send_timeout):
                listed = (await self.api.get_subscriptions()).subscriptions or []
            for subscription in listed:
                async with self.pace.held(), asyncio.timeout(self.settings.send_timeout):
                    await self.api.unsubscribe_webhook(subscription.url)
                log.warning("max: the webhook at %s was unsubscribed: MAX long-polls only without one",
                            subscription.url)
        except (MaxError, ValidationError, *NETWORK) as e:
            log.warning("max: the webhook subscriptions could not be checked (%r); polling anyway", e)

    async def _subscribe(self) -> None:
        assert self.settings.public_url is not None
        url = f"{self.settings.public_url.rstrip('/')}{self.settings.webhook_path}"
        try:
            async with self.pace.held(), asyncio.timeout(self.settings.send_timeout):
                await self.api.subscribe_webhook(url, update_types=UPDATE_TYPES,  # type: ignore[arg-type]
                                                 secret=self.settings.webhook_secret)
            log.info("max: webhook subscribed at %s", url)
        except (MaxError, ValidationError, *NETWORK) as e:
            log.error("max: the webhook could not be subscribed (%r); MAX sends nothing until it is", e)

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)

    async def close(self) -> None:
        await self.api.close_session()
        await self.reader.close()

    # reading a stored update ---------------------------------------------------------------

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        return await self.reader.read(entry)

    async def _answer(self, callback_id: str, user: int) -> None:
        try:  # stops the button's spinner; harmless if it fails (or was answered before this redelivery)
            async with self.pace.held(user), asyncio.timeout(self.settings.send_timeout):
                await self.api.send_callback(callback_id, notification=ACK)
        except (MaxError, ValidationError, *NETWORK) as e:
            log.info("max: answering a press failed: %r", e)

    # sending -----------------------------------------------------------------------------

    async def _upload(self, image: bytes, name: str) -> AttachmentUpload:
        # POST /uploads, then the picture itself to another host, outside the limits
        async with self.pace.held(), asyncio.timeout(self.settings.send_timeout * 4):
            return await self.api.upload_media(InputMediaBuffer(image, PurePath(name or "image").stem,
                                                                UploadType.IMAGE))

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        # MAX takes no idempotency key [I]: a send whose answer was lost may show twice, as Telegram's may
        try:
            user, board = int(account_id), keyboard(message)
        except (ValueError, ValidationError) as e:
            return DeliveryResult(DeliveryOutcome.FAILED, detail=repr(e)[:300])
        try:
            picture = None if message.image is None else await self._upload(message.image, message.image_name)
        except Exception as e:
            return outcome(e)
        attachments = [a for a in (picture, board) if a is not None]
        try:
            # maxapi waits (2 s at a time) while MAX is still processing an uploaded picture: give it time
            async with self.pace.held(user), asyncio.timeout(self.settings.send_timeout * (4 if picture else 1)):
                await self.api.send_message(user_id=user, text=message.text, attachments=attachments or None,
                                            format=MaxFormat.HTML if message.is_html else None,
                                            sleep_after_input_media=False)
        except ValidationError as e:  # MAX took it (2xx); only its echo of the message is not as maxapi expects
            log.warning("max: a message was sent but its echo did not parse: %s", e.errors()[:1])
        except Exception as e:
            return outcome(e)
        return DELIVERED


async def _at_once() -> None:
    """A poll's turn: it never waits for the sends (they leave it its room)."""


async def _sandbox(web_url: str) -> SandboxTwin:
    from bots.emulators.max_api import MaxEmulator, MaxSandboxChat

    # a token of its own per run: a restarted sandbox is another bot, whose cursor starts afresh
    emulator = MaxEmulator(token=f"sandbox-{secrets.token_hex(12)}")
    await emulator.start()
    settings = MaxSettings(_env_file=None, bot_token=emulator.token, api_base=emulator.base_url)
    return SandboxTwin(settings, emulator.stop, MaxSandboxChat(emulator), emulator)


# maxapi logs as "bot", "connection" and "dispatcher": at WARNING only
PLUGIN = ChannelPlugin(MAX, MaxSettings, MaxChannel, PROFILE, _sandbox, ("bot", "connection", "dispatcher"))
