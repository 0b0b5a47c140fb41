"""A local drand relay replaying recorded real rounds (the spec's test vectors): valid signatures, no private key.

Rounds not recorded answer 404 ``{"error": "round or chain not found"}``, as a relay does for a
round not produced yet; ``tamper`` serves a round with one signature byte changed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bots.emulators.server import LoopbackServer
from promo.beacon import DEFAULT, QUICKNET

RECORDED: dict[str, dict[int, dict[str, Any]]] = {
    QUICKNET.hash: {657413: {
        "round": 657413,
        "randomness": "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587",
        "signature": "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
                     "41076862b98fad56e91a6b85b89cd97b"}},
    DEFAULT.hash: {3311596: {
        "round": 3311596,
        "randomness": "647c07b2abbf7ff2afb4d670214f565e5cd9f9c91bfdcecb59a21f3c78d73920",
        "signature": "a696b9409ababce45749c3a4ec369074453dd4a79967734e1390d969c8ad8d98897d217b9121e92c8ddebbddda8d92f9"
                     "00e3bd6bf9deb166863b1a19390d743f82774001487594c5c09e581db7365f02b70a2c8cc41ce32446ef08e4890c4754",
        "previous_signature": "8ed588f2a7716fb1349e2d9803da5db0005e98a83783c353d4a08f183236a9ad91d70ddb01266f4b7c57698"
                              "3db464b430e65680b9e0098552758afd6c1e6afcb77e3f62fe1b93d42d1cb63abbb2205512fe12fbf74ea9c5ac"
                              "3b8f5c1e283a1d8"}},
}


class DrandEmulator(LoopbackServer):
    def __init__(self) -> None:
        self.tamper = False
        self.requests: list[str] = []
        super().__init__(web.Application())
        self.app.router.add_get("/chains", self._chains)
        self.app.router.add_get("/{chain}/public/{round}", self._round)

    async def _chains(self, _request: web.Request) -> web.Response:
        return web.json_response(sorted(RECORDED))

    async def _round(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        chain, number = request.match_info["chain"], request.match_info["round"]
        found = RECORDED.get(chain, {}).get(int(number)) if number.isdigit() else None
        if found is None:
            return web.json_response({"error": "round or chain not found"}, status=404)
        if self.tamper:
            signature = found["signature"]
            found = {**found, "signature": ("0" if signature[2] != "0" else "1").join((signature[:2], signature[3:]))}
        return web.json_response(found)
