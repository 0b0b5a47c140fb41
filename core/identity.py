"""People and their channel accounts: records, validation of what they type, link codes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import Reject
from core.events import Channel

NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*\.?$")
NAME_MAX_LENGTH = 64
LINK_CODE_DIGITS = 6


@dataclass
class Person:
    id: int
    locale: str
    created_at: datetime
    name: str | None = None
    phone: str | None = None
    phone_verified: bool = False
    email: str | None = None
    email_verified: bool = False
    registered_at: datetime | None = None
    source: str | None = None

    @property
    def is_registered(self) -> bool:
        return self.registered_at is not None


@dataclass
class Account:
    id: int
    person_id: int
    channel: Channel
    external_id: str
    display_name: str
    last_seen_at: datetime | None = None
    unreachable_since: datetime | None = None


@dataclass
class LinkCode:
    id: int
    person_id: int
    code: str
    channel: Channel
    account_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def normalise_name(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > NAME_MAX_LENGTH or not NAME_PATTERN.match(name):
        raise Reject("registration.bad_name", max_length=NAME_MAX_LENGTH)
    return name


def normalise_phone(text: str, default_region: str = "RU") -> str:
    """Any common way of writing a number -> E.164; ``8 (912) 345-67-89`` works for Russia."""
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as e:
        raise Reject("registration.bad_phone") from e
    if not phonenumbers.is_valid_number(number):
        raise Reject("registration.bad_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str:
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as e:
        raise Reject("registration.bad_email") from e
    return result.normalized


def new_link_code() -> str:
    return f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"


def looks_like_link_code(text: str) -> bool:
    return len(digits := re.sub(r"\s", "", text)) == LINK_CODE_DIGITS and digits.isdigit()
