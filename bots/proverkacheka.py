"""Client of proverkacheka.com's receipt-check API (``../shared/specs/receipt-check-api.md``), behind
``ReceiptVerifier``: the fiscal QR string in, the receipt with its shop and items out.

``POST /api/v1/check/get`` with the form fields ``token`` and ``qrraw``. The service answers
HTTP 200 even for business errors; the body's ``code`` says what happened: 1 the receipt
(``data.json``), 0 invalid, 2 not in the tax service yet, 3 the token's daily quota is used
up, 4 asked again too soon, 5 anything else. A confirming answer is believed only when its
fiscal drive, document number, fiscal sign, total and operation match the QR string.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from core.verification import CheckedReceipt, CheckOutcome, CheckResult
from promo.products import ReceiptItem
from promo.receipts import Operation, ReceiptError, parse

log = logging.getLogger(__name__)

DEFAULT_URL = "https://proverkacheka.com/api/v1/check/get"
TIMEOUT = aiohttp.ClientTimeout(total=20)
MAX_BODY = 2 * 1024 * 1024
TOKEN_WORDS = ("token", "токен")  # a code-0 answer about the token is our configuration, never the receipt's fault
OUTCOMES = {0: CheckOutcome.INVALID, 2: CheckOutcome.NOT_YET, 3: CheckOutcome.LATER, 4: CheckOutcome.LATER,
            5: CheckOutcome.UNAVAILABLE}


class ProverkachekaVerifier:
    def __init__(self, token: str, url: str | None = None) -> None:
        self.url = url or DEFAULT_URL
        self._token = token  # never logged
        self._session: aiohttp.ClientSession | None = None

    async def check(self, canonical: str) -> CheckResult:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, headers={"Accept": "application/json"})
        try:
            async with self._session.post(self.url, data={"token": self._token, "qrraw": canonical}) as response:
                if response.status != 200:
                    log.warning("receipt check answered HTTP %s", response.status)
                    return CheckResult(CheckOutcome.UNAVAILABLE, detail=f"HTTP {response.status}")
                raw = await response.content.read(MAX_BODY + 1)
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("receipt check failed: %s", e)
            return CheckResult(CheckOutcome.UNAVAILABLE, detail=type(e).__name__)
        return interpret(canonical, raw)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def interpret(canonical: str, raw: bytes) -> CheckResult:
    """One answer of the service, judged against the QR string that was asked about."""
    if len(raw) > MAX_BODY:
        return CheckResult(CheckOutcome.UNAVAILABLE, detail="answer too large")
    try:
        body = json.loads(raw)
    except ValueError:  # empty or an HTML page: the service is not itself
        return CheckResult(CheckOutcome.UNAVAILABLE, detail="not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        return CheckResult(CheckOutcome.UNAVAILABLE, detail="no code")
    code, data = body["code"], body.get("data")
    if code != 1:
        message = data if isinstance(data, str) else ""
        if code == 0 and any(word in message.lower() for word in TOKEN_WORDS):
            log.error("the receipt check refuses our token: %s", message[:200])
            return CheckResult(CheckOutcome.UNAVAILABLE, detail="token refused")
        return CheckResult(OUTCOMES.get(code, CheckOutcome.UNAVAILABLE), detail=f"code {code}: {message[:200]}")
    document = data.get("json") if isinstance(data, dict) else None
    if not isinstance(document, dict):
        return CheckResult(CheckOutcome.UNAVAILABLE, detail="code 1 without data.json")
    mismatch = _mismatch(canonical, document)
    if mismatch:
        log.warning("receipt check returned a different receipt: %s", mismatch)
        return CheckResult(CheckOutcome.INVALID, detail=mismatch)
    inn = str(document.get("userInn") or "").strip() or None
    return CheckResult(CheckOutcome.CONFIRMED, CheckedReceipt(inn, _items(document.get("items")), document))


def _mismatch(canonical: str, document: dict[str, Any]) -> str:
    try:
        asked = parse(canonical, ZoneInfo("UTC"))
    except ReceiptError:
        return "the QR string asked about does not parse"
    checks = (("fiscalDriveNumber", str(document.get("fiscalDriveNumber", "")).strip().lstrip("0"),
               str(asked.fn).lstrip("0")),
              ("fiscalDocumentNumber", _int(document.get("fiscalDocumentNumber")), asked.document_number),
              ("fiscalSign", _int(document.get("fiscalSign")), asked.fiscal_sign),
              ("totalSum", _int(document.get("totalSum")), asked.sum_kopecks),
              ("operationType", _int(document.get("operationType")), int(Operation.SALE)))
    for name, got, expected in checks:
        if got != expected:
            return f"{name} {got!r} != {expected!r}"
    return ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _items(raw: Any) -> list[ReceiptItem] | None:
    if not isinstance(raw, list):
        return None
    items = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        try:
            quantity = float(entry.get("quantity", 1))
            items.append(ReceiptItem(" ".join(str(entry.get("name", "")).split())[:256], quantity,
                                     int(entry.get("price", 0)), int(entry.get("sum", 0))))
        except (TypeError, ValueError):
            continue  # a malformed line counts for nothing rather than losing the receipt
    return items
