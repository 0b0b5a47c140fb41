"""The web chat's way into the QR scanner page: a launch the chat signs itself, for the browser that reads it.

The site's own chat has no messenger to vouch for who opens the scanner, and no camera of its own:
the web chat's server vouches instead. Whenever a browser reads its history, an ``app`` button
becomes a link to ``/scan/web#<launch>``: this browser's account and the time, signed with the web
chat's secret, checked by the scanner as it checks Telegram's and VK's launches (and as old). Only the
browser whose cookie read the history sees it; the page there has the browser's camera or a photo.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from bots.mini_apps import Launch, LaunchRefused, check_age, check_size
from core.channels import ChannelName
from core.ports import NewUpdate

PLATFORM = "web"
PAGE_PATH = f"/scan/{PLATFORM}"
# a link stays the same this long, so the chat page (which redraws when its history changes) stays still
LINK_STEP = 600


class WebChatMiniApp:
    platform = PLATFORM

    def __init__(self, channel: ChannelName, bot: str, secret: bytes) -> None:
        self.channel = channel
        self.bot = bot
        self._secret = secret

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, f"scan:{payload}".encode(), hashlib.sha256).hexdigest()

    def link_for(self, account: str, now: datetime) -> str:
        """The scanner page, opened as ``account`` (the link's hash never leaves the browser)."""
        payload = f"{account}.{int(now.timestamp()) // LINK_STEP * LINK_STEP}"
        return f"{PAGE_PATH}#{payload}.{self._sign(payload)}"

    def check(self, launch_data: str, now: datetime) -> Launch:
        check_size(launch_data)
        payload, _, sign = launch_data.rpartition(".")
        account, _, ts = payload.partition(".")
        if not (account and ts.isdigit() and sign):
            raise LaunchRefused("malformed")
        if not hmac.compare_digest(self._sign(payload).encode(), sign.encode()):
            raise LaunchRefused("forged")
        signed_at = datetime.fromtimestamp(int(ts), UTC)
        check_age(signed_at, now)
        return Launch(account, sign, signed_at, {})

    def typed(self, launch: Launch, text: str, key: str) -> NewUpdate:
        return NewUpdate(f"scan:{key}", launch.account, {"text": text, "from": launch.account})
