"""A person's e-mail address and phone number as channel accounts the router can use, and the codes proving them.

The phone a person gives becomes an account of every channel that reaches a number alone (SMS),
verified when the number was proved (a messenger's contact share, or a code sent to it); an
e-mail address becomes an account when a
code is sent to it, verified once the code is typed back or the letter's link followed. An
account verified by one person is never taken by another's typed claim; an unverified claim
moves to whoever proves the address. Codes are stored hashed and limited per person and per
address: every SMS costs money, and a code is a message to someone who may not have asked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.channels import ChannelDirectory, ChannelName, Identity
from core.events import OutgoingMessage
from core.identity import ChannelAccount, Person
from core.ports import UnitOfWork
from core.queueing import enqueue

CODE_DIGITS = 6
MAX_FAILURES = 5


def code_hash(code: str) -> str:
    return hashlib.sha256(f"contact-code:{code}".encode()).hexdigest()


def link_hash(token: str) -> str:
    return hashlib.sha256(f"contact-link:{token}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


async def account_for(tx: UnitOfWork, person: Person, channel: ChannelName, address: str,
                      now: datetime) -> ChannelAccount | None:
    """The person's account for this address, added when free; None when another person verified it."""
    found = await tx.people.find_by_account(channel, address)
    if found is None:
        return await tx.people.add_account(person.id, channel, address, "", now)
    account, holder = found
    if holder.id != person.id and account.verified:
        return None
    return account


async def verify_account(tx: UnitOfWork, person: Person, channel: ChannelName, address: str,
                         now: datetime) -> ChannelAccount | None:
    """The address is proved to be the person's: their account, verified and reachable (taken from an unproven
    claim of someone else's); None when someone else had proved it first."""
    account = await account_for(tx, person, channel, address, now)
    if account is None:
        return None
    account.person_id = person.id
    account.verified_at = account.verified_at or now
    account.unreachable_since, account.unreachable_reason = None, None
    await tx.people.touch_account(account)
    return account


async def sync_phone_account(tx: UnitOfWork, channels: ChannelDirectory, person: Person, now: datetime) -> None:
    """The person's phone as an account of each channel that reaches a number alone: verified exactly when the
    number is (such a channel may be switched on later: the account is there already)."""
    if not person.phone:
        return
    for channel in channels.known_with(Identity.PHONE):
        if person.phone_verified:
            await verify_account(tx, person, channel, person.phone, now)
        else:
            await account_for(tx, person, channel, person.phone, now)


@dataclass(frozen=True)
class Issued:
    code: str
    link_token: str | None
    expires_at: datetime


class TooManyCodes(Exception):
    """The person, or the address, had enough codes for now."""


async def issue_code(tx: UnitOfWork, person: Person, channel: ChannelName, address: str, now: datetime, *,
                     ttl: timedelta, per_hour: int, per_address_per_day: int,
                     origin: tuple[ChannelName, str] | None, with_link: bool = False) -> Issued:
    """A code for ``address`` (and, ``with_link``, a token for a link that proves it with one click: letters)."""
    if await tx.contact_codes.issued_since(since=now - timedelta(hours=1), person_id=person.id) >= per_hour:
        raise TooManyCodes
    if await tx.contact_codes.issued_since(since=now - timedelta(days=1), address=address) >= per_address_per_day:
        raise TooManyCodes
    code = new_code()
    token = secrets.token_urlsafe(24) if with_link else None
    await tx.contact_codes.issue(person.id, channel, address, code_hash(code), now, now + ttl, origin,
                                 link_hash(token) if token else None)
    return Issued(code, token, now + ttl)


@dataclass(frozen=True)
class Checked:
    outcome: str  # verified, wrong, expired, taken
    address: str = ""
    left: int = 0


async def check_code(tx: UnitOfWork, person: Person, channel: ChannelName, identity: Identity, typed: str,
                     now: datetime) -> Checked:
    """A code typed back: the address proved (and the account verified), or why not; ``identity``: what the
    channel's addresses are (a number proves the profile's phone, a mailbox its e-mail)."""
    code = await tx.contact_codes.live(person.id, channel, now)
    if code is None:
        return Checked("expired")
    digits = "".join(ch for ch in typed if ch.isdigit())
    if not hmac.compare_digest(code_hash(digits), code.code_hash):
        failures = await tx.contact_codes.fail(code.id)
        if failures >= MAX_FAILURES:
            await tx.contact_codes.use(code.id, now)  # spent: guessing ends here
            return Checked("expired", code.address)
        return Checked("wrong", code.address, MAX_FAILURES - failures)
    await tx.contact_codes.use(code.id, now)
    return await _proved(tx, person, channel, identity, code.address, now)


async def _proved(tx: UnitOfWork, person: Person, channel: ChannelName, identity: Identity, address: str,
                  now: datetime) -> Checked:
    if await verify_account(tx, person, channel, address, now) is None:
        return Checked("taken", address)
    if identity is Identity.MAILBOX:
        person.email, person.email_verified = address, True
    elif person.phone == address:
        person.phone_verified = True
    await tx.people.save(person)
    return Checked("verified", address)


async def verify_by_link(tx: UnitOfWork, channel: ChannelName, address: str, token: str, now: datetime) -> bool:
    """A letter's link followed: the address is proved; the person hears it where they asked for the code."""
    code = await tx.contact_codes.find(link_hash(token), now)
    if code is None or code.address != address or code.channel != channel:
        return False
    await tx.contact_codes.use(code.id, now)
    person = await tx.people.get(code.person_id)
    checked = await _proved(tx, person, channel, Identity.MAILBOX, address, now)
    template = "verify.email_verified" if checked.outcome == "verified" else "verify.email_taken"
    enqueue(tx, OutgoingMessage(person.id, template, {"address": address, "name": person.name or ""},
                                        person.locale, code.origin_channel, code.origin_account), now)
    return True


async def unsubscribe(tx: UnitOfWork, channel: ChannelName, address: str, now: datetime) -> bool:
    """No more letters to this address (until the person proves it again)."""
    found = await tx.people.find_by_account(channel, address)
    if found is None:
        return False
    account, person = found
    account.unreachable_since, account.unreachable_reason = now, "unsubscribed"
    await tx.people.touch_account(account)
    enqueue(tx, OutgoingMessage(person.id, "email.unsubscribed", {"name": person.name or ""},
                                        person.locale), now)
    return True


async def acknowledge(tx: UnitOfWork, channel: ChannelName, address: str, message_id: int, now: datetime) -> bool:
    """"Got it" from a letter: the message sent to this address is answered."""
    found = await tx.people.find_by_account(channel, address)
    return found is not None and await tx.messages.acknowledge(message_id, found[1].id, now)
