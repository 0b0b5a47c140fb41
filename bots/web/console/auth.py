"""Who is at the console: argon2 password hashes, server-side sessions, CSRF tokens, login throttling, roles.

The session cookie holds a random token; the database keeps only its SHA-256, so a copy of the
database opens no session. Every form carries the session's CSRF token. Every route declares the
roles that may use it (``requires``); a route that declares none is refused to everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.ports import Store
from core.ports.staff import StaffRole, StaffSession, StaffUser

COOKIE = "console_session"
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
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
    """Too many failed logins for this name or from this address lately."""


async def log_in(store: Store, username: str, password: str, address: str, now: datetime,
                 lifetime: timedelta) -> tuple[str, StaffSession, StaffUser] | None:
    """A new session's token, or None for a wrong name or password; ``Throttled`` after too many failures."""
    username = username.strip()[:64]
    async with store.transaction() as tx:
        since = now - FAILURE_WINDOW
        if (await tx.staff.failed_logins(since, username=username) >= MAX_FAILURES_PER_NAME
                or await tx.staff.failed_logins(since, address=address) >= MAX_FAILURES_PER_ADDRESS):
            await tx.staff.audit(None, "login_throttled", f"staff:{username}", now, {"address": address})
            raise Throttled
        user = await tx.staff.find_user(username)
    ok = password_matches(user if user and user.active else None, password)  # slow on purpose: outside the lock
    async with store.transaction() as tx:
        await tx.staff.record_login(username, address, ok, now)
        if not ok or user is None:
            await tx.staff.audit(None, "login_failed", f"staff:{username}", now, {"address": address})
            return None
        token = secrets.token_urlsafe(32)
        session = await tx.staff.start_session(user.id, token_hash(token), secrets.token_urlsafe(24), now,
                                               now + lifetime)
        await tx.staff.audit(user.id, "login", f"staff:{user.id}", now, {"address": address})
    return token, session, user


def csrf_ok(session: StaffSession, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf_token.encode(), sent.encode())


def client_address(request: web.Request) -> str:
    return (request.remote or "unknown")[:64]


def form_value(form: Any, name: str, limit: int = 10_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
