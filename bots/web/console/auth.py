"""Who is at the console: argon2 password hashes, server-side sessions, CSRF tokens, throttled sign-in, roles.

The session cookie holds a random token; the database keeps only its SHA-256, so a copy of the
database opens no session. Every form carries the session's CSRF token. Every route declares the
roles that may use it (``requires``); a route that declares none is refused to everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bots.web.console.throttling import RULES, WINDOW, LockKind, Network, client_address, inside
from core.ports import Store
from core.ports.staff import StaffRole, StaffSession, StaffUser

COOKIE = "console_session"
MIN_PASSWORD = 10
ALL_ROLES = frozenset(StaffRole)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_hasher = PasswordHasher()
# verifying against this when the name is unknown takes as long as a real check: names cannot be probed by timing
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def password_matches(user: StaffUser | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def requires(*roles: StaffRole) -> Callable[[Handler], Handler]:
    """The roles that may use a route; the console's guard refuses every other."""

    def mark(handler: Handler) -> Handler:
        handler.roles = frozenset(roles)  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: Handler) -> Handler:
    handler.public = True  # type: ignore[attr-defined]
    return handler


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of a request."""

    user: StaffUser
    session: StaffSession

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def role(self) -> StaffRole:
        return self.user.role

    def may(self, *roles: StaffRole) -> bool:
        return self.user.role in roles


class Throttled(Exception):
    """Too many failed sign-ins lately under one of the keys ``throttling`` counts."""


async def log_in(store: Store, username: str, password: str, address: str, now: datetime, lifetime: timedelta,
                 staff_networks: Sequence[Network] = ()) -> tuple[str, StaffSession, StaffUser] | None:
    """A new session's token, or None for a wrong name or password; ``Throttled`` while a lockout holds."""
    username = username.strip()[:64]
    since = now - WINDOW
    async with store.transaction() as tx:
        found = await tx.staff.find_user(username)
        user = found if found and found.active else None
        held = {kind for kind, failures in (
            (LockKind.PAIR, await tx.staff.login_failures(since, username=username, address=address)),
            (LockKind.NAME, await tx.staff.login_failures(since, username=username)),
            (LockKind.ADDRESS, await tx.staff.login_failures(since, address=address, unknown_names=True)))
            if (until := RULES[kind].locked_until(failures)) is not None and until > now}
    # the pair is the guesser's own key; a name lock holds except from the staff's networks. Neither needs a check
    if LockKind.PAIR in held or (LockKind.NAME in held and not inside(address, staff_networks)):
        raise Throttled
    ok = password_matches(user, password)  # slow on purpose: outside the lock, and as slow for unknown names
    async with store.transaction() as tx:
        await tx.staff.record_login(username, address, ok, now)
        if not ok or user is None:
            await tx.staff.audit(None, "login_failed", f"staff:{username}", now, {"address": address})
            await _audit_new_lockouts(tx, username, address, now)
            if held:  # a scanning address hears 429 for real names too: the answer tells no names
                raise Throttled
            return None
        await tx.staff.forget_failures(username=username, address=address)  # the person, not a guesser
        token = secrets.token_urlsafe(32)
        session = await tx.staff.start_session(user.id, token_hash(token), secrets.token_urlsafe(24), now,
                                               now + lifetime)
        await tx.staff.audit(user.id, "login", f"staff:{user.id}", now, {"address": address})
    return token, session, user


async def _audit_new_lockouts(tx: Any, username: str, address: str, now: datetime) -> None:
    """Every failure that locks (or locks longer) is in the audit log, with the key and until when."""
    since = now - WINDOW
    for kind, failures, target in (
            (LockKind.PAIR, await tx.staff.login_failures(since, username=username, address=address),
             f"staff:{username}"),
            (LockKind.NAME, await tx.staff.login_failures(since, username=username), f"staff:{username}"),
            (LockKind.ADDRESS, await tx.staff.login_failures(since, address=address, unknown_names=True),
             f"address:{address}")):
        until = RULES[kind].locked_until(failures)
        if until is not None and until > now:
            await tx.staff.audit(None, "lockout", target, now, {
                "kind": kind.value, "username": username if kind != LockKind.ADDRESS else "",
                "address": address if kind != LockKind.NAME else "", "failures": failures.count,
                "until": until.isoformat()})


def csrf_ok(session: StaffSession, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf_token.encode(), sent.encode())


def request_address(request: web.Request, trusted_proxies: Sequence[Network]) -> str:
    return client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted_proxies)


def form_value(form: Any, name: str, limit: int = 10_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
