"""A local receipt-check API speaking ``bots.receipt_check``'s protocol; tests script its answers."""

from __future__ import annotations

from aiohttp import web

from bots.emulators.server import LoopbackServer


class ReceiptCheckEmulator(LoopbackServer):
    def __init__(self, token: str = "check-token") -> None:
        self.token = token
        self.answers: dict[str, str] = {}  # canonical string -> found | not_yet | not_found
        self.failing = False  # answer 503, as a service under maintenance does
        self.requests: list[str] = []
        super().__init__(web.Application())
        self.app.router.add_post("/check", self._check)

    @property
    def url(self) -> str:
        return f"{self.base_url}/check"

    async def _check(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.failing:
            return web.json_response({"error": "maintenance"}, status=503)
        body = await request.json()
        qr = str(body.get("qr", ""))
        self.requests.append(qr)
        return web.json_response({"status": self.answers.get(qr, "not_yet")})
