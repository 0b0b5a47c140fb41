"""SMS through a Russian gateway's HTTP API: SMS.ru (``/sms/send``) or SMSC.ru (``/sys/send.php``).

The text is the template's SMS form, fitted to ``SMS_MAX_SEGMENTS`` by real GSM-7 / UCS-2
arithmetic (``core.sms_segments``), so a letter in Cyrillic costs what the gateway bills. A
number the gateway will never deliver to (no route, stop lists) is unreachable; a full balance,
a daily limit or a server error is a retry. The gateway has no idempotency key (SMSC's ``id``
is not unique), so after a timeout the send is not repeated blindly: it is reported as a
retry only when the gateway said it did not take the message.

The channel sends only: people answer in the messengers, never by SMS.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode
from core.channels import ChannelName, ChannelProfile, Identity, TextFormat
from core.delivery import DeliveryOutcome, DeliveryResult
from core.events import InboundEvent
from core.intake import Intake
from core.limits import Rate
from core.ports import InboxEntry
from core.settings import http_url
from core.sms_segments import count, fit
from core.templates import Rendered

log = logging.getLogger(__name__)

SMS = ChannelName("sms")
PROFILE = ChannelProfile(SMS, "SMS", TextFormat.BRIEF, max_text=3 * 153, buttons=False, identity=Identity.PHONE)

# SMS.ru codes (``../shared/specs/sms-gateway-api.md``): the number will never get it / try again later
SMSRU_UNREACHABLE = {202, 207, 209, 214, 215}
SMSRU_RETRY = {201, 206, 220, 230, 233, 500}
# SMSC error codes: 7 wrong number format, 8 cannot be delivered; 3 no money, 4 IP blocked, 9 duplicate flood
SMSC_UNREACHABLE = {7, 8}
SMSC_RETRY = {3, 4, 9}


class SmsSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="SMS_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    provider: str = Field("smsru", pattern="^(smsru|smsc)$")
    api_key: SecretStr | None = None  # SMS.ru api_id, or SMSC apikey
    api_base: str | None = None  # default: https://sms.ru or https://smsc.ru
    sender: str = ""  # an approved sender name; empty: the gateway's default
    max_segments: int = Field(3, ge=1, le=8)  # SMS.ru refuses more than 8
    cost_kopecks_per_segment: int = Field(350, ge=0)
    rate_per_second: float = Field(5.0, gt=0)
    test: bool = False  # SMS.ru test=1: nothing sent, nothing charged
    timeout_seconds: float = Field(15.0, gt=0)

    _api_base = field_validator("api_base")(http_url)

    @property
    def enabled(self) -> bool:
        return self.api_key is not None

    @property
    def base(self) -> str:
        return (self.api_base or ("https://sms.ru" if self.provider == "smsru" else "https://smsc.ru")).rstrip("/")


def digits(phone: str) -> str:
    """E.164 as the gateways want it: digits only, no ``+``."""
    return "".join(ch for ch in phone if ch.isdigit())


class SmsChannel:
    def __init__(self, settings: SmsSettings, mode: Mode) -> None:
        assert settings.api_key is not None
        self.settings = settings
        self.key = settings.api_key.get_secret_value()
        self.bot = f"sms:{settings.provider}"
        self.profile = replace(PROFILE, max_text=settings.max_segments * 153,
                               cost_kopecks=settings.cost_kopecks_per_segment,
                               rate=Rate(settings.rate_per_second, burst=max(int(settings.rate_per_second), 1)))
        self._http: aiohttp.ClientSession | None = None
        self.spent_kopecks = 0  # what this process's sends cost, by the configured price per segment

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        return []

    async def start(self, intake: Intake) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        return None  # one-way: nothing comes in by SMS

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds))
        return self._http

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        text = fit(message.text, self.settings.max_segments)
        segments = count(text)
        try:
            if self.settings.provider == "smsru":
                result = await self._send_smsru(digits(account_id), text)
            else:
                result = await self._send_smsc(digits(account_id), text, idempotency_key)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            return DeliveryResult(DeliveryOutcome.RETRY, detail=f"sms gateway: {e!r}"[:300])
        if result.outcome is DeliveryOutcome.DELIVERED:
            cost = segments.parts * self.settings.cost_kopecks_per_segment
            self.spent_kopecks += cost
            detail = f"{result.detail}; {segments.parts} x {segments.encoding}, {Decimal(cost) / 100} ₽"
            return DeliveryResult(DeliveryOutcome.DELIVERED, detail=detail)
        return result

    async def _send_smsru(self, number: str, text: str) -> DeliveryResult:
        form = {"api_id": self.key, "to": number, "msg": text, "json": "1"}
        if self.settings.sender:
            form["from"] = self.settings.sender
        if self.settings.test:
            form["test"] = "1"
        async with self._session().post(f"{self.settings.base}/sms/send", data=form) as response:
            if response.status >= 500:
                return DeliveryResult(DeliveryOutcome.RETRY, detail=f"sms.ru HTTP {response.status}")
            answer: dict[str, Any] = await response.json(content_type=None)
        if answer.get("status") != "OK":
            code = int(answer.get("status_code", 0))
            detail = f"sms.ru {code} {answer.get('status_text', '')}".strip()
            outcome = DeliveryOutcome.RETRY if code in SMSRU_RETRY else DeliveryOutcome.FAILED
            return DeliveryResult(outcome, retry_after=60.0 if outcome is DeliveryOutcome.RETRY else None,
                                  detail=detail)
        mine = (answer.get("sms") or {}).get(number) or {}
        code = int(mine.get("status_code", 0))
        detail = f"sms.ru {code} {mine.get('status_text', '')}".strip()
        if mine.get("status") == "OK":
            return DeliveryResult(DeliveryOutcome.DELIVERED, detail=f"accepted, sms_id {mine.get('sms_id')}")
        if code in SMSRU_UNREACHABLE:
            return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=detail)
        if code in SMSRU_RETRY:
            return DeliveryResult(DeliveryOutcome.RETRY, retry_after=60.0, detail=detail)
        return DeliveryResult(DeliveryOutcome.FAILED, detail=detail)

    async def _send_smsc(self, number: str, text: str, message_id: int) -> DeliveryResult:
        form = {"apikey": self.key, "phones": number, "mes": text, "fmt": "3", "charset": "utf-8", "cost": "3",
                "id": str(message_id % 2_147_483_647 or 1)}
        if self.settings.sender:
            form["sender"] = self.settings.sender
        async with self._session().post(f"{self.settings.base}/sys/send.php", data=form) as response:
            if response.status >= 500:
                return DeliveryResult(DeliveryOutcome.RETRY, detail=f"smsc HTTP {response.status}")
            answer: dict[str, Any] = await response.json(content_type=None)
        if "error_code" in answer:
            code = int(answer["error_code"])
            detail = f"smsc {code} {answer.get('error', '')}".strip()
            if code in SMSC_UNREACHABLE:
                return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=detail)
            if code in SMSC_RETRY:
                return DeliveryResult(DeliveryOutcome.RETRY, retry_after=60.0, detail=detail)
            return DeliveryResult(DeliveryOutcome.FAILED, detail=detail)
        return DeliveryResult(DeliveryOutcome.DELIVERED,
                              detail=f"accepted, id {answer.get('id')}, {answer.get('cnt')} sms")


PLUGIN = ChannelPlugin(SMS, SmsSettings, SmsChannel, PROFILE)
