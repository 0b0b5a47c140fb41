"""The Telegram client's side of a Mini App, for the emulator: the launch it hands a ``web_app`` button's page.

A Telegram client opens the button's URL with ``#tgWebAppData=<initData>&tgWebAppVersion=…`` and
``initData`` signed as https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app
describes: HMAC-SHA256 of the sorted ``key=value`` lines, keyed with HMAC-SHA256("WebAppData", bot token).
Written out here on purpose, not borrowed from the code that checks it: the two must agree on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def init_data(token: str, user: dict[str, Any], auth_date: int | None = None, **extra: str) -> str:
    """``initData`` as Telegram signs it for ``user`` (``auth_date``: now unless given)."""
    fields = {"query_id": f"AAH{secrets.token_urlsafe(12)}", "user": json.dumps(user, separators=(",", ":")),
              "auth_date": str(int(time.time()) if auth_date is None else auth_date), **extra}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return urlencode({**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()})


def launch_url(url: str, data: str, version: str, platform: str = "android") -> str:
    """The address a client opens: ``version`` is what the page may ask of it (6.4 brought the QR scanner)."""
    return f"{url}#tgWebAppData={quote(data, safe='')}&tgWebAppVersion={version}&tgWebAppPlatform={platform}"


def web_app_problem(markup: dict[str, Any] | None) -> str | None:
    """Telegram refuses a message whose ``web_app`` button is not https; so do we, but for the loopback address
    the sandbox serves its pages on (the one thing this emulator allows that Telegram does not)."""
    rows = (markup or {}).get("inline_keyboard") or []
    for button in (b for row in rows for b in row if isinstance(b, dict) and "web_app" in b):
        url = str((button.get("web_app") or {}).get("url") or "")
        parts = urlsplit(url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)):
            return f"Bad Request: inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
    return None
