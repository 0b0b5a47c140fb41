"""The MAX emulator's updates: one feed, read by long polling or pushed to the one webhook subscription.

``GET /updates`` hands out what the bot has not acknowledged: a request with ``marker=M``
acknowledges every update up to ``M`` (the marker an earlier answer ended at), so a bot that
died before storing a batch gets it again. While a subscription exists, long polling gets
nothing and each update is POSTed to the subscribed URL with ``X-Max-Bot-Api-Secret``, again and
again until MAX's expected answer, HTTP 200, comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bots.emulators.server import WebhookPusher

SECRET_HEADER = "X-Max-Bot-Api-Secret"
SECRET = re.compile(r"[A-Za-z0-9-]{5,256}")  # MAX's rule for a subscription's secret
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_WAIT = 90  # seconds a long poll may wait, as MAX allows


class FeedError(ValueError):
    """A subscription MAX would refuse (400 ``proto.payload``)."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Subscription:
    url: str
    secret: str
    update_types: list[str] | None
    time: int
    pusher: WebhookPusher

    def listed(self) -> dict[str, Any]:
        return {"url": self.url, "time": self.time, "update_types": self.update_types}


class UpdateFeed:
    def __init__(self) -> None:
        # markers are 64-bit and never restart from 1, as MAX's: a restarted emulator is not a reset bot
        self.markers = itertools.count(now_ms() * 1000)
        self.pending: list[tuple[int, dict[str, Any]]] = []  # (marker, update) not yet acknowledged
        self.history: list[dict[str, Any]] = []
        self.confirmed = 0  # the highest marker a poll acknowledged
        self.polls = 0
        self.subscription: Subscription | None = None
        self.closing = False
        self.arrived = asyncio.Condition()

    # the user side ------------------------------------------------------------------------------

    async def push(self, update: dict[str, Any]) -> int:
        marker = next(self.markers)
        async with self.arrived:
            self.pending.append((marker, update))
            self.history.append(update)
            self.arrived.notify_all()
        return marker

    async def redeliver(self, update: dict[str, Any]) -> None:
        """Hand an update out once more, as MAX may after a timeout: the bot must store it only once."""
        await self.push(dict(update))

    def acknowledged(self) -> int:
        """How many updates the bot has acknowledged (polled past, or answered 200 on the webhook)."""
        return len(self.history) - len(self.pending)

    # long polling -------------------------------------------------------------------------------

    async def poll(self, marker: int | None, limit: int, timeout: float,
                   types: set[str] | None) -> tuple[list[dict[str, Any]], int | None]:
        self.polls += 1
        if marker is not None:
            self.confirmed = max(self.confirmed, marker)
            self.pending = [(m, u) for m, u in self.pending if m > marker]
        if self.subscription is not None:  # MAX: long polling gets nothing while a webhook is subscribed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(timeout, MAX_WAIT)), self.arrived:
                    await self.arrived.wait_for(lambda: self.closing)
            return [], marker
        async with self.arrived:
            if timeout and not self._has(types):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait_for(lambda: self.closing or self._has(types)),
                                           min(timeout, MAX_WAIT))
        batch = [(m, u) for m, u in self.pending if types is None or u.get("update_type") in types][:limit]
        if not batch:
            return [], marker if marker is not None else (self.pending[-1][0] if self.pending else self.confirmed)
        return [u for _, u in batch], batch[-1][0]

    def _has(self, types: set[str] | None) -> bool:
        return any(types is None or u.get("update_type") in types for _, u in self.pending)

    # the webhook --------------------------------------------------------------------------------

    async def subscribe(self, url: str, secret: str | None, update_types: list[str] | None, **retry: float) -> None:
        """One subscription at a time: a new URL replaces the old one, whose undelivered updates it takes over."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FeedError(f"url must be an absolute http(s) URL, got {url!r}")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise FeedError("MAX refuses plain HTTP webhooks (loopback excepted, for local runs)")
        if secret is not None and not SECRET.fullmatch(secret):
            raise FeedError("secret: 5 to 256 characters of A-Z, a-z, 0-9 and '-'")
        await self.unsubscribe()
        headers = {SECRET_HEADER: secret} if secret else {}
        pusher = WebhookPusher(url, lambda status, _: status == 200, headers, **retry)
        self.subscription = Subscription(url, secret or "", update_types, now_ms(), pusher)
        types = set(update_types) if update_types else None
        pusher.start(lambda: self._next_for_webhook(types), self._delivered)

    async def unsubscribe(self, url: str | None = None) -> bool:
        """Remove the subscription (only if it has ``url``, when given); the undelivered updates wait for polling."""
        current = self.subscription
        if current is None or (url is not None and current.url != url):
            return False
        self.subscription = None
        await current.pusher.stop()
        async with self.arrived:
            self.arrived.notify_all()  # a long poll waiting out the subscription may go on now
        return True

    async def _next_for_webhook(self, types: set[str] | None) -> dict[str, Any]:
        async with self.arrived:
            while True:
                await self.arrived.wait_for(lambda: bool(self.pending))
                _marker, update = self.pending[0]
                if types is None or update.get("update_type") in types:
                    return update
                self.pending.pop(0)  # a type the subscription did not ask for: MAX never sends it

    def _delivered(self, update: dict[str, Any]) -> None:
        if self.pending and self.pending[0][1] is update:
            self.pending.pop(0)

    async def close(self) -> None:
        self.closing = True
        async with self.arrived:
            self.arrived.notify_all()
        await self.unsubscribe()
