"""HTTP client for a generic receipt-check API (``RECEIPT_CHECK_PROVIDER=generic``), behind ``ReceiptVerifier``.

It confirms or denies a receipt but gives no items: campaigns with product rules need
``bots.proverkacheka`` (the default provider).

The protocol it speaks: ``POST {RECEIPT_CHECK_URL}`` with ``Authorization: Bearer
{RECEIPT_CHECK_TOKEN}`` and ``{"qr": "t=…&s=…&fn=…&i=…&fp=…&n=1"}``; the answer is
``{"status": "found" | "not_yet" | "not_found"}``. A different provider gets its own
small module like this one.
"""

from __future__ import annotations

import logging

import aiohttp

from core.verification import CheckOutcome, CheckResult

log = logging.getLogger(__name__)

STATUSES = {"found": CheckOutcome.CONFIRMED, "not_yet": CheckOutcome.NOT_YET, "not_found": CheckOutcome.INVALID}
TIMEOUT = aiohttp.ClientTimeout(total=15)


class HttpReceiptVerifier:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    async def check(self, canonical: str) -> CheckResult:
        return CheckResult(await self._outcome(canonical))

    async def _outcome(self, canonical: str) -> CheckOutcome:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.post(self.url, json={"qr": canonical}, headers=self.headers) as response:
                if response.status != 200:
                    log.warning("receipt check answered HTTP %s", response.status)
                    return CheckOutcome.UNAVAILABLE
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            log.warning("receipt check failed: %s", e)
            return CheckOutcome.UNAVAILABLE
        status = body.get("status") if isinstance(body, dict) else None
        return STATUSES.get(str(status), CheckOutcome.UNAVAILABLE)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
