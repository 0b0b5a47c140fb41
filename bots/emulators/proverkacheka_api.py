"""A local proverkacheka.com receipt-check API with the documented request and answer shapes; tests script it.

Per QR string a sequence of envelope codes is played (``script[qr] = [2, 2, 1]``: not yet twice,
then the receipt), the receipt's items and shop are given in ``receipts[qr]`` (or made up
from the QR itself), a per-token daily quota answers code 3 once used up, a wrong token gets
``{"code": 0, "data": "…token…"}``, and ``mode`` makes the whole service misbehave the ways
clients meet in the wild: HTTP 401 or 500, or an HTML page instead of JSON.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from bots.emulators.server import LoopbackServer

Mode = Literal["normal", "http_401", "http_500", "html"]
MESSAGES = {0: "чек некорректен", 2: "данные чека пока не получены", 3: "превышено кол-во запросов",
            4: "ожидание перед повторным запросом", 5: "прочее (данные не получены)"}


class ProverkachekaEmulator(LoopbackServer):
    def __init__(self, token: str = "12345.AbCdEfGhIjKlMnOpQ") -> None:
        self.token = token
        self.script: dict[str, list[int]] = {}  # QR string -> codes still to play; then the last one repeats
        self.receipts: dict[str, dict[str, Any]] = {}  # QR string -> the data.json to return on code 1
        self.daily_limit: int | None = None
        self.mode: Mode = "normal"
        self.requests: list[dict[str, str]] = []
        self._used = 0
        super().__init__(web.Application(client_max_size=4 * 1024 * 1024))
        self.app.router.add_post("/api/v1/check/get", self._check)

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/v1/check/get"

    def answer(self, qr: str, *codes: int, items: list[dict[str, Any]] | None = None, inn: str = "7825706086  ",
               **fields: Any) -> None:
        """Script the codes for ``qr``; on code 1 the receipt has these items and shop (and any field overridden)."""
        self.script[qr] = list(codes)
        self.receipts[qr] = {**receipt_json(qr, items or [], inn), **fields}

    async def _check(self, request: web.Request) -> web.Response:
        if self.mode == "http_401":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.mode == "http_500":
            return web.Response(status=500, text="Internal Server Error")
        if self.mode == "html":
            return web.Response(text="<html><body>Технические работы</body></html>", content_type="text/html")
        form = dict(await request.post()) if request.content_type.startswith("multipart/") else \
            dict(parse_qsl(await request.text()))
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        self.requests.append(fields)
        if fields.get("token") != self.token:
            return web.json_response({"code": 0, "data": "Неверный токен (token)"})
        self._used += 1
        if self.daily_limit is not None and self._used > self.daily_limit:
            return web.json_response({"code": 3, "data": MESSAGES[3]})
        qr = fields.get("qrraw", "")
        codes = self.script.get(qr) or [2]
        code = codes.pop(0) if len(codes) > 1 else codes[0]
        echo = {"qrurl": "", "qrfile": "", "qrraw": qr.lower(), "manual": _manual(qr)}
        if code != 1:
            return web.json_response({"code": code, "data": MESSAGES.get(code, MESSAGES[5]), "request": echo})
        document = self.receipts.get(qr) or receipt_json(qr, [], "7825706086  ")
        return web.json_response({"code": 1, "first": 0, "data": {"json": document, "html": ""}, "request": echo})


def _manual(qr: str) -> dict[str, str]:
    fields = dict(parse_qsl(qr))
    return {"fn": fields.get("fn", ""), "fd": fields.get("i", ""), "fp": fields.get("fp", ""),
            "check_time": fields.get("t", "").lower(), "type": fields.get("n", ""), "sum": fields.get("s", "")}


def receipt_json(qr: str, items: list[dict[str, Any]], inn: str) -> dict[str, Any]:
    """A ``data.json`` in the service's shape (money in kopecks, INN right-padded) for the receipt in ``qr``."""
    fields = dict(parse_qsl(qr))
    t = fields.get("t", "20260101T0000")
    total = round(float(fields.get("s", "0")) * 100)
    return {
        "dateTime": f"{t[0:4]}-{t[4:6]}-{t[6:8]}T{t[9:11]}:{t[11:13]}:00", "totalSum": total,
        "cashTotalSum": 0, "ecashTotalSum": total, "fiscalDriveNumber": fields.get("fn", ""),
        "fiscalDocumentNumber": int(fields.get("i", "0")), "fiscalSign": int(fields.get("fp", "0")),
        "operationType": int(fields.get("n", "1")), "code": 3, "user": 'ООО "Агроторг"', "userInn": inn,
        "retailPlace": "37S0 26151-Пятерочка", "region": "66", "kktRegId": "0007795807005569    ",
        "messageFiscalSign": 9.29725062962095e18, "fiscalDocumentFormatVer": 4,
        "metadata": {"id": 1, "ofdId": "ofd22", "subtype": "receipt", "receiveDate": "2026-03-15T11:01:24Z"},
        "items": [{"nds": 1, "paymentType": 4, "productType": 1, "itemsQuantityMeasure": 0, **item} for item in items],
    }
