"""The web app as a platform service: served on a socket bound before the links were built."""

from __future__ import annotations

import socket

from aiohttp import web


class WebServer:
    name = "web app"

    def __init__(self, app: web.Application, listening: socket.socket) -> None:
        self.app = app
        self.listening = listening
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.listening).start()

    async def run(self) -> None:
        return None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        else:  # never started: the socket bound for it is let go all the same
            self.listening.close()
