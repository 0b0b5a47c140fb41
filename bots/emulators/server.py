"""What every local emulator shares: an aiohttp app on a loopback port, waiting for what the bot sent,
and pushing updates to the bot's webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import aiohttp
from aiohttp import web

Message = TypeVar("Message")
Accepted = Callable[[int, str], bool]  # (HTTP status, body) -> the receiver took the update


class LoopbackServer:
    """Serves ``self.app`` on 127.0.0.1, on a free port unless one is given."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Outbox(Generic[Message]):
    """What the bot sent, per user; waiting for it is notified, not polled (many waiters stay cheap)."""

    def __init__(self) -> None:
        self.by_user: dict[int, list[Message]] = {}
        self._changed = asyncio.Condition()

    def record(self, user_id: int, message: Message) -> None:
        self.by_user.setdefault(user_id, []).append(message)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def to(self, user_id: int) -> list[Message]:
        return list(self.by_user.get(user_id, []))

    def count(self, user_id: int) -> int:
        return len(self.by_user.get(user_id, []))

    async def wait(self, user_id: int, count: int, timeout: float) -> list[Message]:
        """Until ``count`` messages went to ``user_id``; TimeoutError says how many came."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.count(user_id) >= count)
        except TimeoutError:
            raise TimeoutError(f"user {user_id} got {self.count(user_id)} of {count} messages") from None
        return self.to(user_id)


class WebhookPusher:
    """POSTs updates to a bot's URL one at a time, in order, each again and again until it is accepted.

    As Telegram and VK do: an answer that is not an acceptance, a refused connection (the bot is
    down or restarting) and a timeout are all just another retry, after a growing pause.
    """

    def __init__(self, url: str, accepted: Accepted, headers: Mapping[str, str] | None = None, *,
                 first_retry: float = 0.05, max_retry: float = 1.0, timeout: float = 10.0) -> None:
        self.url = url
        self.accepted = accepted
        self.headers = dict(headers or {})
        self.first_retry, self.max_retry = first_retry, max_retry
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.posts = 0  # every POST made, retries included
        self.refusals = 0  # POSTs that were not accepted
        self.answers: list[tuple[float, int | None]] = []  # (loop time, HTTP status or None: no answer) per POST
        self._task: asyncio.Task[None] | None = None

    def start(self, next_update: Callable[[], Awaitable[dict[str, Any]]],
              delivered: Callable[[dict[str, Any]], None]) -> None:
        """``next_update`` waits for the oldest undelivered update; ``delivered`` is told once it was accepted."""
        self._task = asyncio.get_running_loop().create_task(self._run(next_update, delivered))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, next_update: Callable[[], Awaitable[dict[str, Any]]],
                   delivered: Callable[[dict[str, Any]], None]) -> None:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            while True:
                update = await next_update()
                await self._post_until_accepted(session, update)
                delivered(update)

    async def _post_until_accepted(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        pause = self.first_retry
        while True:
            self.posts += 1
            status: int | None = None  # None: no answer (refused, reset, timed out)
            accepted = False
            try:
                async with session.post(self.url, json=update, headers=self.headers) as response:
                    status = response.status
                    accepted = self.accepted(status, await response.text())
            except (aiohttp.ClientError, OSError, TimeoutError):
                accepted = False
            self.answers.append((asyncio.get_running_loop().time(), status))
            if accepted:
                return
            self.refusals += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_retry)
