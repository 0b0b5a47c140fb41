"""Signed, short-lived links that open the web chat as the person the bot gave them to.

A link carries the person's id and when it stops working, signed with HMAC-SHA256: nobody
can make one for someone else, and a link seen later (a browser history) no longer works. Each link
also signs in one browser only (``link_id`` is the evidence of the merge it made).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

LINK_LIFETIME = timedelta(minutes=15)


def _signature(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: bytes, person_id: int, now: datetime, lifetime: timedelta = LINK_LIFETIME) -> str:
    # a random part: two links asked for in the same second are two links, each used once
    body = f"{person_id}.{int((now + lifetime).timestamp())}.{secrets.token_hex(8)}"
    return f"{body}.{_signature(secret, body)}"


def verify(secret: bytes, token: str, now: datetime) -> int | None:
    """The person the token was given to, or None (forged, mangled or expired)."""
    parts = token.strip().split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit() or len(token) > 200:
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_signature(secret, body), parts[3]):
        return None
    if int(parts[1]) < now.timestamp():
        return None
    return int(parts[0])

def link_id(token: str) -> str:
    """A short name of one link (its signature's start), kept as the evidence of the merge it made: a link
    is used once, so one copied or seen over a shoulder joins no second browser within its 15 minutes."""
    return token.strip().rsplit(".", 1)[-1][:22]


# used when WEBCHAT_SECRET is not set: links then work until this process restarts
PROCESS_SECRET = secrets.token_bytes(32)
