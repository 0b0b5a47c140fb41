"""People and their channel accounts: records, validation of what they type, link codes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.channels import ChannelName
from core.errors import Reject

NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*\.?$")
NAME_MAX_LENGTH = 64
LINK_CODE_DIGITS = 8  # 10^8 codes: with the guessing limits, a live code is not found by chance


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
    merged_into_id: int | None = None  # set on a profile joined into another
    withdrawn_at: datetime | None = None  # erased at their request: consent withdrawn, so no later draw or broadcast

    @property
    def is_registered(self) -> bool:
        return self.registered_at is not None


@dataclass
class ChannelAccount:
    """One way to reach a person: a Telegram chat, a VK user, an address, a number."""

    id: int
    person_id: int
    channel: ChannelName
    external_id: str
    display_name: str
    last_seen_at: datetime | None = None
    unreachable_since: datetime | None = None
    verified_at: datetime | None = None  # an address or number proved by a code, a link or the channel itself
    unreachable_reason: str | None = None  # blocked, bounced, unsubscribed, not allowed…

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


@dataclass(frozen=True)
class Consent:
    person_id: int
    text_version: str
    channel: ChannelName
    accepted_at: datetime


@dataclass(frozen=True)
class PersonDetails:
    """What a merge may change on a person: the fields the survivor fills from the absorbed person, and the
    phone the absorbed person gives up (``PeopleRepository.absorb``)."""

    name: str | None = None
    phone: str | None = None
    phone_verified: bool = False
    email: str | None = None
    email_verified: bool = False
    source: str | None = None
    registered_at: datetime | None = None

    # a value and its flag go back together or not at all
    GROUPS = (("name",), ("phone", "phone_verified"), ("email", "email_verified"), ("source",), ("registered_at",))

    @classmethod
    def of(cls, person: Person) -> PersonDetails:
        return cls(**{f.name: getattr(person, f.name) for f in fields(cls)})

    def given_to(self, person: Person) -> Person:
        return replace(person, **{f.name: getattr(self, f.name) for f in fields(self)})

    def plain(self) -> dict[str, Any]:
        """As a JSON column keeps it (the time as ISO text)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["registered_at"] = self.registered_at.isoformat() if self.registered_at else None
        return values

    @classmethod
    def from_plain(cls, values: dict[str, Any]) -> PersonDetails:
        known = {f.name: values.get(f.name, f.default) for f in fields(cls)}
        registered = known["registered_at"]
        known["registered_at"] = datetime.fromisoformat(registered) if registered else None
        return cls(**known)


@dataclass(frozen=True)
class MergeDetails:
    """Both people's details just before ``absorb`` and the survivor's just after: undoing the merge gives each
    their own back exactly (``core.support.identity.undo_merge``)."""

    survivor: PersonDetails
    absorbed: PersonDetails
    survivor_after: PersonDetails

    def taken_back(self, survivor_now: PersonDetails) -> PersonDetails:
        """The survivor's details on undo: each group the merge filled goes back to what the survivor had before,
        unless the survivor changed it since (then it stays as it is now)."""
        restored: dict[str, Any] = {}
        for group in PersonDetails.GROUPS:
            before, after, now = (tuple(getattr(d, name) for name in group)
                                  for d in (self.survivor, self.survivor_after, survivor_now))
            if after != before and now == after:
                restored.update(zip(group, before, strict=True))
        return replace(survivor_now, **restored)

    def plain(self) -> dict[str, Any]:
        return {"survivor": self.survivor.plain(), "absorbed": self.absorbed.plain(),
                "survivor_after": self.survivor_after.plain()}

    @classmethod
    def from_plain(cls, values: dict[str, Any] | None) -> MergeDetails | None:
        if not values:  # a merge from before the details were kept, or one whose person was erased
            return None
        return cls(PersonDetails.from_plain(values["survivor"]), PersonDetails.from_plain(values["absorbed"]),
                   PersonDetails.from_plain(values["survivor_after"]))


@dataclass(frozen=True)
class Merge:
    """Two profiles joined: who absorbed whom, why, which rows moved (by repository), and each person's details
    around the merge (``None`` for merges recorded before they were kept, and once either person is erased)."""

    id: int
    survivor_id: int
    absorbed_id: int
    reason: str
    moved: dict[str, list[int]]
    merged_at: datetime
    details: MergeDetails | None = None


@dataclass
class LinkCode:
    id: int
    person_id: int
    code: str
    channel: ChannelName
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


def format_phone(e164: str | None) -> str:
    """``+79123456789`` -> ``+7 912 345-67-89``, as people write it."""
    if not e164:
        return "—"
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise_email(text: str) -> str:
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as e:
        raise Reject("registration.bad_email") from e
    return result.normalized


def new_link_code() -> str:
    return f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"


def link_code_digits(text: str) -> str:
    """The code as typed, without the spaces and dashes people put in it."""
    return re.sub(r"[\s\-]", "", text)


def looks_like_link_code(text: str) -> bool:
    return len(digits := link_code_digits(text)) == LINK_CODE_DIGITS and digits.isdigit()
