"""Sending rates: how fast a channel may be written to, and the limiter every sender of every process shares.

A rate is kept as a GCRA bucket (a "theoretical arrival time" per key): ``count`` sends per
``seconds``, up to ``burst`` at once. One ``acquire`` takes a send from several buckets at once
(the bot's and the chat's) or from none, so a chat's limit never wastes the bot's budget.
Bulk notices may not empty a bucket: they leave ``BULK_RESERVE`` of the burst to replies, so
people who are waiting for an answer are served first even while a broadcast runs.

This module keeps the buckets in this process (one process, or tests); with ``REDIS_URL``
the same algorithm runs inside Redis (``storage.redis_limits``), shared by every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

BULK_RESERVE = 0.2  # share of a bucket's burst that bulk notices leave to replies
# A send that comes late (the event loop was busy) may catch up by this share of one interval, so a bucket runs
# at its rate, not below it; in any second it lets through at most 1 + floor(rate + CATCH_UP) sends (burst 1).
CATCH_UP = 0.15


@dataclass(frozen=True)
class Rate:
    """``count`` sends per ``seconds``, at most ``burst`` back to back."""

    count: float
    seconds: float = 1.0
    burst: int = 1

    def __post_init__(self) -> None:
        if self.count <= 0 or self.seconds <= 0 or self.burst < 1:
            raise ValueError(f"a rate needs a positive count and period and a burst of 1+, got {self}")

    @property
    def interval(self) -> float:
        """Seconds one send uses up."""
        return self.seconds / self.count

    def tolerance(self, bulk: bool) -> float:
        """How far ahead of now a bucket may run: the burst, less the replies' reserve for bulk sends."""
        reserve = math.ceil(self.burst * BULK_RESERVE) if bulk and self.burst > 1 else 0
        return self.interval * (max(self.burst - 1 - reserve, 0) + CATCH_UP)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


Limit = tuple[str, Rate]  # (bucket key, its rate)


class Limiter(Protocol):
    async def acquire(self, limits: Sequence[Limit], *, bulk: bool = False) -> float:
        """Take one send from every bucket, or from none: 0.0 when taken, else the seconds to wait first."""
        ...

    async def pause(self, key: str, rate: Rate, seconds: float) -> None:
        """The channel said "retry after ``seconds``": nothing leaves through this bucket until then."""
        ...

    async def close(self) -> None: ...


async def take(limiter: Limiter, limits: Sequence[Limit], *, bulk: bool = False,
               give_up: Callable[[], bool] = lambda: False) -> bool:
    """Wait until the send may go (True), or until ``give_up`` says to stop waiting (False)."""
    while True:
        wait = await limiter.acquire(limits, bulk=bulk)
        if wait <= 0:
            return True
        if give_up():
            return False
        await asyncio.sleep(wait)


class Unlimited:
    """No limits at all (benchmarks of the outbox itself; channels that have none)."""

    async def acquire(self, limits: Sequence[Limit], *, bulk: bool = False) -> float:
        return 0.0

    async def pause(self, key: str, rate: Rate, seconds: float) -> None:
        return None

    async def close(self) -> None:
        return None


class InProcessLimiter:
    """The buckets in this process's memory: right for one process (SQLite) and for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tat: dict[str, float] = {}

    async def acquire(self, limits: Sequence[Limit], *, bulk: bool = False) -> float:
        now = self.clock()
        wait = 0.0
        arrivals = []
        for key, rate in limits:
            tat = max(self._tat.get(key, now), now)
            wait = max(wait, tat - now - rate.tolerance(bulk))
            arrivals.append((key, tat + rate.interval))
        if wait > 0:
            return wait
        for key, tat in arrivals:
            self._tat[key] = tat
        if len(self._tat) > 100_000:  # chats seen once: forget buckets that are back at rest
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return 0.0

    async def pause(self, key: str, rate: Rate, seconds: float) -> None:
        now = self.clock()
        self._tat[key] = max(self._tat.get(key, now), now + seconds + rate.tolerance(False))

    async def close(self) -> None:
        return None


class Turns:
    """Who sends next through one bucket of this process: replies before bulk notices, each in arrival order.

    Lanes do not race for the bucket (a herd of sleeping bulk lanes would let a reply wait behind
    them); they queue here, and one loop hands out the bucket's sends, best first.
    """

    def __init__(self, limiter: Limiter, key: str, rate: Rate) -> None:
        self.limiter = limiter
        self.key = key
        self.rate = rate
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._loop: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def wait(self, *, bulk: bool) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiting, (1 if bulk else 0, self._seq, future))
        self._arrived.set()
        if self._loop is None or self._loop.done():
            self._loop = asyncio.get_running_loop().create_task(self._hand_out())
        await future

    async def _hand_out(self) -> None:
        while self._waiting:
            while self._waiting and self._waiting[0][2].done():  # a waiter that gave up (cancelled)
                heapq.heappop(self._waiting)
            if not self._waiting:
                break
            bulk = self._waiting[0][0] == 1
            try:
                wait = await self.limiter.acquire([(self.key, self.rate)], bulk=bulk)
            except Exception as e:  # the shared limiter is away: hold everyone rather than break the limit
                logging.getLogger(__name__).warning("rate limiter unavailable (%s); waiting", e)
                wait = 1.0
            if wait > 0:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):  # a reply arriving meanwhile may take the next slot
                    await asyncio.wait_for(self._arrived.wait(), wait) if bulk else await asyncio.sleep(wait)
                continue
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
