"""What every local emulator shares: an aiohttp app on a loopback port, and waiting for what the bot sent."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from aiohttp import web

Message = TypeVar("Message")


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
