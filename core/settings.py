"""The platform's own configuration (environment and ``.env``), checked at start-up.

A channel's settings (tokens, API bases, webhook secrets) live with the channel in ``bots/``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.gates.caps import FrequencyCaps
from core.gates.quiet_hours import QuietHours
from promo.campaigns import Campaign

SUPPORTED_DATABASES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
Locale = Literal["ru", "en"]


def http_url(value: str | None) -> str | None:
    """A setting that must be an http(s) address (None stays None)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./promo.db"
    locale: Locale = "ru"
    locales: tuple[str, ...] = ("ru", "en")
    time_zone: str = "Europe/Moscow"
    phone_region: str = Field("RU", min_length=2, max_length=2)

    bot_mode: Literal["polling", "webhook"] = "polling"
    sandbox: bool | None = None  # None: on exactly when no channel has a token

    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None  # how people reach the web app (behind a proxy); default http://WEB_HOST:WEB_PORT

    rules_url: str | None = None  # default: PUBLIC_URL/rules
    consent_version: str = "2026-11"
    campaign_code: str = Field("promo", min_length=1, max_length=32)
    campaign_title: str = Field("Промоакция", min_length=1, max_length=120, description="what people see")
    campaign_starts_on: date = date(2026, 1, 1)
    campaign_ends_on: date = date(2026, 12, 31)
    campaign_min_sum: Decimal = Field(Decimal("100"), ge=0, description="roubles")
    campaign_receipts_per_day: int = Field(5, ge=1)
    campaign_receipts_per_hour: int = Field(3, ge=1)
    campaign_cashback_percent: Decimal = Field(Decimal("5"), ge=0, le=100)
    campaign_cashback_cap_per_receipt: Decimal = Field(Decimal("500"), ge=0, description="roubles")
    campaign_cashback_cap_per_person: Decimal = Field(Decimal("3000"), ge=0, description="roubles")
    campaign_roubles_per_entry: Decimal = Field(Decimal("100"), ge=0, description="0: no draw entries")
    campaign_max_entries_per_receipt: int = Field(100, ge=0)
    campaign_max_entries_per_person: int = Field(1000, ge=0)
    payout_min: Decimal = Field(Decimal("100"), ge=0, description="roubles")

    receipt_check_url: str | None = None  # the receipt-check API; unset: no tax-service verification
    receipt_check_token: SecretStr | None = None
    receipt_check_interval_minutes: int = Field(15, ge=1)
    receipt_check_provider: Literal["proverkacheka", "generic"] = "proverkacheka"  # see bots/proverkacheka.py

    draw_winner_hours: int = Field(72, ge=1, le=24 * 30, description="how long a winner has to confirm")
    drand_urls: str = "https://api.drand.sh,https://drand.cloudflare.com"  # relays a named beacon round is read from
    # 32 bytes (64 hex digits or base64) sealing each draw's seed (core/draws/sealing.py); unset outside the sandbox:
    # campaigns with draws cannot be activated nor their draws run. Kept out of the database and its backups.
    draw_seed_key: SecretStr | None = None

    link_code_ttl_minutes: int = Field(10, ge=1, le=24 * 60)
    link_code_max_failures: int = Field(5, ge=1, le=100)
    link_code_max_failures_per_code: int = Field(5, ge=1, le=100)
    link_code_max_failures_per_hour: int = Field(500, ge=1, description="everyone together")

    webchat_secret: SecretStr | None = None  # signs web chat links; unset: a new secret each start
    support_sla_hours: float = Field(24.0, gt=0, le=24 * 30, description="a ticket's answer target")
    support_sla_by_campaign: dict[str, float] = Field(default_factory=dict,
                                                      description='{"promo": 4}: hours per campaign')
    support_rating_change_minutes: float = Field(0.0, ge=0, le=60, description="a rating may change this long "
                                                 "after it was given (0: given once)")
    console_session_hours: float = Field(12.0, gt=0, le=24 * 30, description="a staff login lasts")
    console_trusted_proxies: str = ""  # "10.0.0.5, 172.16.0.0/12": proxies whose X-Forwarded-For is believed
    console_staff_networks: str = ""  # the office: a correct password from here is let in despite a name lockout

    photo_workers: int = Field(2, ge=1, le=64, description="processes that read QR codes")
    photo_decode_seconds: float = Field(5.0, gt=0, le=120, description="time budget of one photo")
    photo_queue: int = Field(100, ge=0, le=10_000, description="at most this many photos wait for a worker")
    photo_max_wait_seconds: float = Field(30.0, gt=0, le=600, description="'busy' when a photo would wait longer")

    redis_url: str | None = None  # shared rate limits for several processes; unset: limits kept in this process
    rate_limits: bool = True  # false: send as fast as the channels take it (a test or a benchmark of the outbox)
    quiet_hours: str = "22:00-09:00"  # notices wait these hours out in each person's time zone ("off": never)
    # broadcasts one person gets at most, per calendar day and week of their zone, all channels together and per
    # channel (``sms:1/day``); transactional messages are never capped ("off": no caps)
    frequency_caps: str = "3/day, 10/week"
    contact_code_ttl_minutes: int = Field(15, ge=1, le=24 * 60, description="e-mail and SMS codes live")
    contact_codes_per_hour: int = Field(3, ge=1, le=100, description="codes one person may ask for in an hour")
    contact_codes_per_address_per_day: int = Field(5, ge=1, le=100, description="codes one address or number gets")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in SUPPORTED_DATABASES:
            raise ValueError("expected sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return f"{SUPPORTED_DATABASES[scheme]}://{rest}"

    @field_validator("draw_seed_key")
    @classmethod
    def _seed_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value().strip()
            try:
                key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
            except (ValueError, binascii.Error) as e:
                raise ValueError("expected 32 bytes as 64 hex digits or base64") from e
            if len(key) != 32:
                raise ValueError("expected 32 bytes as 64 hex digits or base64")
        return value

    @field_validator("console_trusted_proxies", "console_staff_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the wrong one
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("frequency_caps")
    @classmethod
    def _frequency_caps(cls, value: str) -> str:
        FrequencyCaps.parse(value)
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r} (try Europe/Moscow)") from e
        return value

    _urls = field_validator("public_url", "rules_url", "receipt_check_url")(http_url)

    @model_validator(mode="after")
    def _webhook_needs_secrets(self) -> Settings:
        if self.campaign_ends_on < self.campaign_starts_on:
            raise ValueError("CAMPAIGN_ENDS_ON: the campaign ends before it starts")
        return self

    @property
    def base_url(self) -> str:
        """Where people reach the web app: ``PUBLIC_URL``, else the address it listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.web_host in ("0.0.0.0", "::", "") else self.web_host
        return f"http://{host}:{self.web_port}"

    @property
    def receipt_check_enabled(self) -> bool:
        """Receipts wait for the receipt check: a token (proverkacheka) or an address (generic) is set."""
        return self.receipt_check_url is not None or self.receipt_check_token is not None

    @property
    def drand_relays(self) -> list[str]:
        return [str(http_url(part)) for part in (p.strip() for p in self.drand_urls.split(",")) if part]

    @property
    def rules_link(self) -> str:
        return self.rules_url or f"{self.base_url}/rules"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def support_sla(self, campaign: str) -> timedelta:
        """How soon a ticket of this campaign should be answered."""
        return timedelta(hours=self.support_sla_by_campaign.get(campaign, self.support_sla_hours))

    @property
    def campaign(self) -> Campaign:
        return Campaign(
            code=self.campaign_code, title=self.campaign_title, zone=self.zone, starts_on=self.campaign_starts_on,
            ends_on=self.campaign_ends_on, min_sum_kopecks=kopecks(self.campaign_min_sum),
            receipts_per_day=self.campaign_receipts_per_day, receipts_per_hour=self.campaign_receipts_per_hour,
            cashback_percent=self.campaign_cashback_percent,
            cashback_cap_per_receipt_kopecks=kopecks(self.campaign_cashback_cap_per_receipt),
            cashback_cap_per_person_kopecks=kopecks(self.campaign_cashback_cap_per_person),
            kopecks_per_entry=kopecks(self.campaign_roubles_per_entry),
            max_entries_per_receipt=self.campaign_max_entries_per_receipt,
            max_entries_per_person=self.campaign_max_entries_per_person)


def describe_error(error: ValidationError, env_prefix: str = "") -> str:
    """One line naming the first bad setting the way it is written in the environment."""
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["loc"]:
        return f"configuration error: {env_prefix.upper()}{str(first['loc'][0]).upper()}: {message}"
    return f"configuration error: {message}"


def kopecks(roubles: Decimal) -> int:
    return int(roubles * 100)
