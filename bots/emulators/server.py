"""What every local emulator shares: an aiohttp app on a loopback port, and waiting for what the bot sent."""

from __future__ import annotations

import asyncio
from typing import TypeVar

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


async def wait_for_sent(sent: dict[int, list[Message]], user_id: int, count: int,
                        timeout: float) -> list[Message]:
    """Until the bot has sent ``count`` messages to ``user_id``; TimeoutError says how many came."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(sent.get(user_id, [])) < count:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"user {user_id} got {len(sent.get(user_id, []))} of {count} messages")
        await asyncio.sleep(0.01)
    return list(sent[user_id])
