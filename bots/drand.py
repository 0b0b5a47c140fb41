"""Reading a drand beacon round from public relays over HTTP (``../shared/specs/drand-beacon.md``).

Relays are asked in turn (``GET /{chain-hash}/public/{round}``); an answer counts only once its
BLS signature verifies against the chain's pinned key (``promo.beacon``), so a relay can delay
a draw but never steer it. A round not produced yet is a 404 (or no answer): the draw waits.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from promo.beacon import BeaconError, BeaconRound, verify_round

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)


class DrandRelays:
    def __init__(self, urls: list[str]) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, chain_hash: str, round_number: int) -> BeaconRound | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        for url in self.urls:
            body = await self._get(f"{url}/{chain_hash}/public/{round_number}")
            if body is None:
                continue
            try:
                return verify_round(chain_hash, round_number, str(body.get("signature", "")),
                                    str(body.get("previous_signature", "")), str(body.get("randomness", "")) or None)
            except BeaconError as e:  # a relay that lies or garbles is skipped, and said
                log.error("drand relay %s gave round %s that does not verify: %s", url, round_number, e)
        return None

    async def _get(self, address: str) -> dict[str, Any] | None:
        assert self._session is not None
        try:
            async with self._session.get(address) as response:
                if response.status != 200:
                    return None
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            log.warning("drand relay %s: %s", address, e)
            return None
        if not isinstance(body, dict) or body.get("round") is None:
            return None
        return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
