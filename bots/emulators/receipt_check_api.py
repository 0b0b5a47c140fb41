"""A local receipt-check API speaking ``bots.receipt_check``'s protocol; tests script its answers."""

from __future__ import annotations

from aiohttp import web


class ReceiptCheckEmulator:
    def __init__(self, token: str = "check-token") -> None:
        self.token = token
        self.answers: dict[str, str] = {}  # canonical string -> found | not_yet | not_found
        self.failing = False  # answer 503, as a service under maintenance does
        self.requests: list[str] = []
        self.app = web.Application()
        self.app.router.add_post("/check", self._check)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/check"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _check(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.failing:
            return web.json_response({"error": "maintenance"}, status=503)
        body = await request.json()
        qr = str(body.get("qr", ""))
        self.requests.append(qr)
        return web.json_response({"status": self.answers.get(qr, "not_yet")})
