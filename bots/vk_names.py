"""Who a VK user is, for ``bots.vk``: VK's ``message_new`` carries only the sender's id, so the name comes from
``users.get``.

Telegram and MAX put the sender's name on every update; VK does not, and without it the name question has no
one-press answer and the link handshake asks the owner about an account without a name. A name is looked up
once and kept (for a day, a bounded number of people); lookups that come together go as one ``users.get``
(up to ``BATCH`` ids), one at a time and at most one a ``GAP``, so a crowd of newcomers costs one of the
community's 20 requests a second rather than one each; that one waits for its turn of the community's bucket
like a send (``turn``, from the outbox), so however many processes look names up, all stay within the limit. A lookup
that fails or is slow gives no name this time (and is tried again on the person's next message): the
message itself is never held up or lost for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from vkbottle import API, VKAPIError

log = logging.getLogger("bots.vk")

BATCH = 1000  # users.get takes up to 1000 ids
KEPT = 10_000  # people whose names are kept
KEPT_FOR = 24 * 3600.0  # seconds: a renamed person is seen by the next day
GATHER = 0.05  # seconds lookups wait to go together in one request
WAIT = 3.0  # seconds a message waits for its sender's name at most
GAP = 1.0  # seconds between two users.get: the one request a second the senders leave free


def full_name(user: Any) -> str:
    """``{"first_name", "last_name"}`` -> "Пётр Иванов"; a deleted or banned page (``deactivated``) has none."""
    if not isinstance(user, dict) or user.get("deactivated"):
        return ""
    parts = [p for p in (user.get("first_name"), user.get("last_name")) if isinstance(p, str)]
    return " ".join(" ".join(parts).split())[:128]


async def _no_wait() -> None:
    return None


class VkNames:
    def __init__(self, api: API, *, gather: float = GATHER, wait: float = WAIT) -> None:
        self.api = api
        self.gather, self.wait = gather, wait
        self._known: OrderedDict[int, tuple[float, str]] = OrderedDict()
        self._asked: dict[int, asyncio.Future[str]] = {}
        self._asking: asyncio.Task[None] | None = None
        self._last = 0.0  # when the last users.get left
        self.turn: Callable[[], Awaitable[None]] = _no_wait  # the outbox's turns, once it shares them

    async def of(self, user_id: int) -> str:
        """The user's name as VK shows it, or "" when VK does not say (now)."""
        known = self._known.get(user_id)
        if known is not None and time.monotonic() - known[0] < KEPT_FOR:
            self._known.move_to_end(user_id)
            return known[1]
        future = self._asked.get(user_id)
        if future is None:
            future = self._asked[user_id] = asyncio.get_running_loop().create_future()
        if self._asking is None or self._asking.done():
            self._asking = asyncio.create_task(self._ask())
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.wait)
        except TimeoutError:
            log.warning("vk: users.get for %s took over %.0f s; answered without the name", user_id, self.wait)
            return ""

    async def _ask(self) -> None:
        """One request at a time, for everyone asked about meanwhile, until nobody waits."""
        while self._asked:
            await asyncio.sleep(max(self.gather, self._last + GAP - time.monotonic()))
            self._last = time.monotonic()
            batch = dict(list(self._asked.items())[:BATCH])
            for user_id in batch:
                del self._asked[user_id]
            await self.turn()
            names = await self._lookup(list(batch))
            for user_id, future in batch.items():
                if user_id in names:
                    self._keep(user_id, names[user_id])
                if not future.done():
                    future.set_result(names.get(user_id, ""))

    async def _lookup(self, ids: list[int]) -> dict[int, str]:
        try:
            answer = await self.api.request("users.get", {"user_ids": ",".join(map(str, ids))})
        except (VKAPIError, ClientError, OSError, TimeoutError, ValueError) as e:
            log.warning("vk: users.get failed for %d people (%s); answered without their names", len(ids), e)
            return {}
        users = answer.get("response") if isinstance(answer, dict) else None
        return {user["id"]: full_name(user) for user in users or []
                if isinstance(user, dict) and isinstance(user.get("id"), int)}

    def _keep(self, user_id: int, name: str) -> None:
        self._known[user_id] = (time.monotonic(), name)
        self._known.move_to_end(user_id)
        while len(self._known) > KEPT:
            self._known.popitem(last=False)

    async def close(self) -> None:
        if self._asking is not None:
            self._asking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._asking
