"""A local SMS gateway speaking SMS.ru's and SMSC.ru's documented HTTP shapes (``../shared/specs/sms-gateway-api.md``).

SMS.ru: ``POST /sms/send`` (form, ``json=1``; GET is refused with code 210, ``test=1`` sends
nothing), ``/sms/status`` walking 100 -> 103 as the emulator is told. SMSC: ``/sys/send.php``
answering ``{"id", "cnt", "cost", "balance"}`` or ``{"error", "error_code"}``, with error 9 for
the same text to the same number again within a minute. Numbers can be scripted to fail
with any code (``refuse``); what was sent is kept per number, with its segment count.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from bots.emulators.server import LoopbackServer, Outbox
from core.sms_segments import count

API_KEY = "sms-test-key"
PRICE_PER_PART = Decimal("3.50")


@dataclass
class Sms:
    sms_id: str
    number: str
    text: str
    parts: int
    encoding: str
    sent_at: float
    status: int = 100  # SMS.ru's: 100 queued … 103 delivered


class SmsGateway(LoopbackServer):
    def __init__(self, api_key: str = API_KEY, balance: Decimal = Decimal("10000")) -> None:
        self.api_key = api_key
        self.balance = balance
        self.sent: Outbox[Sms] = Outbox()
        self.by_id: dict[str, Sms] = {}
        self.refusals: dict[str, int] = {}  # number -> the SMS.ru code (or SMSC error code) it answers with
        self.requests = 0
        self.rate_limit: int | None = None  # requests per second: more get SMS.ru 220 / SMSC 9
        self.too_many = 0
        self._recent: deque[float] = deque()
        self._ids = itertools.count(1)
        self._last_text: dict[tuple[str, str], float] = {}
        super().__init__(web.Application())
        self.app.router.add_route("*", "/sms/send", self._smsru_send)
        self.app.router.add_route("*", "/sms/status", self._smsru_status)
        self.app.router.add_route("*", "/sys/send.php", self._smsc_send)

    def refuse(self, number: str, code: int) -> None:
        self.refusals[number.lstrip("+")] = code

    def to(self, number: str) -> list[Sms]:
        return [m for messages in self.sent.by_user.values() for m in messages if m.number == number.lstrip("+")]

    def all(self) -> list[Sms]:
        return [m for messages in self.sent.by_user.values() for m in messages]

    def deliver(self, sms_id: str, status: int = 103) -> None:
        self.by_id[sms_id].status = status

    def _over_rate(self) -> bool:
        self.requests += 1
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            self.too_many += 1
            return True
        self._recent.append(now)
        return False

    def _record(self, number: str, text: str) -> Sms:
        segments = count(text)
        sms = Sms(f"{next(self._ids):06d}-{int(time.time()) % 10**8:08d}", number, text, segments.parts,
                  segments.encoding, time.time())
        self.by_id[sms.sms_id] = sms
        self.balance -= PRICE_PER_PART * segments.parts
        self.sent.record(int(number) if number.isdigit() else 0, sms)
        return sms

    # SMS.ru ----------------------------------------------------------------------------------

    async def _smsru_send(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.json_response({"status": "ERROR", "status_code": 210,
                                      "status_text": "Используется GET, где необходимо использовать POST"})
        form = await request.post()
        if form.get("api_id") != self.api_key:
            return web.json_response({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"})
        if self._over_rate():
            return web.json_response({"status": "ERROR", "status_code": 220,
                                      "status_text": "Сервис временно недоступен, попробуйте чуть позже"})
        text, numbers = str(form.get("msg") or ""), [n for n in str(form.get("to") or "").split(",") if n]
        if not text:
            return web.json_response({"status": "ERROR", "status_code": 203, "status_text": "Нет текста сообщения"})
        if count(text).parts > 8:
            return web.json_response({"status": "ERROR", "status_code": 205,
                                      "status_text": "Сообщение слишком длинное (превышает 8 СМС)"})
        answers: dict[str, Any] = {}
        for number in numbers[:100]:
            code = self.refusals.get(number)
            if code is not None:
                answers[number] = {"status": "ERROR", "status_code": code, "status_text": "Отказ (эмулятор)"}
            elif not number.isdigit() or not 10 <= len(number) <= 15:
                answers[number] = {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер"}
            elif form.get("test") == "1":
                answers[number] = {"status": "OK", "status_code": 100, "sms_id": "000000-000000"}
            else:
                answers[number] = {"status": "OK", "status_code": 100, "sms_id": self._record(number, text).sms_id}
        return web.json_response({"status": "OK", "status_code": 100, "sms": answers, "balance": float(self.balance)})

    async def _smsru_status(self, request: web.Request) -> web.Response:
        params = dict(request.query) | dict(await request.post())
        if params.get("api_id") != self.api_key:
            return web.json_response({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"})
        found: dict[str, Any] = {}
        for sms_id in str(params.get("sms_id") or "").split(","):
            sms = self.by_id.get(sms_id)
            found[sms_id] = ({"status": "ERROR", "status_code": -1, "status_text": "Сообщение не найдено"}
                             if sms is None else {"status": "OK", "status_code": sms.status,
                                                  "cost": float(PRICE_PER_PART * sms.parts)})
        return web.json_response({"status": "OK", "status_code": 100, "sms": found, "balance": float(self.balance)})

    # SMSC ------------------------------------------------------------------------------------

    async def _smsc_send(self, request: web.Request) -> web.Response:
        params = dict(request.query) | {k: str(v) for k, v in (await request.post()).items()}
        if params.get("apikey") != self.api_key:
            return web.json_response({"error": "authorise error", "error_code": 2})
        if self._over_rate():
            return web.json_response({"error": "duplicate request, wait a minute", "error_code": 9})
        number, text = params.get("phones", "").lstrip("+"), params.get("mes", "")
        if not number.isdigit():
            return web.json_response({"error": "invalid number", "error_code": 7})
        code = self.refusals.get(number)
        if code is not None:
            return web.json_response({"error": "refused (emulator)", "error_code": code})
        now = time.monotonic()
        if now - self._last_text.get((number, text), -1e9) < 60:
            return web.json_response({"error": "duplicate request, wait a minute", "error_code": 9})
        self._last_text[(number, text)] = now
        sms = self._record(number, text)
        await asyncio.sleep(0)
        return web.json_response({"id": int(sms.sms_id.split("-")[0]), "cnt": sms.parts,
                                  "cost": f"{PRICE_PER_PART * sms.parts:.2f}", "balance": f"{self.balance:.2f}"})
