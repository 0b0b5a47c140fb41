"""Keyed lanes and a wakeable polling loop: what the intake and the outbox both run on.

A lane holds the work of one key (a person's updates, a chat's messages) and is worked by one
task, one item at a time, in order; different keys go in parallel. An item stays at the head
of its lane while it is worked, so a later item of the same key can never overtake it, and
submitting an item that is already queued does nothing. ``stop`` lets each lane finish the
item it is on; ``drained`` waits for every lane to empty (tests, benchmarks).

``Poller`` is the loop beside the lanes that looks for work nobody handed over (retries that
came due, what a dead worker left): it looks again at once while it finds a full batch, and
otherwise sleeps until woken or until its poll interval passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Identified(Protocol):
    @property
    def id(self) -> int: ...


K = TypeVar("K", bound=Hashable)
T = TypeVar("T", bound=Identified)
Work = Callable[[T, "deque[T]"], Awaitable[None]]  # (the head item, its lane): may reorder or clear the lane


class Lanes(Generic[K, T]):
    def __init__(self, key: Callable[[T], K], work: Callable[[T, deque[T]], Awaitable[None]], *,
                 done: Callable[[T], None] | None = None, name: str = "lane") -> None:
        self.key = key
        self.work = work
        self.done = done  # told of each item once its lane is past it
        self.name = name
        self._lanes: dict[K, deque[T]] = {}
        self._running: dict[K, asyncio.Task[None]] = {}
        self.stopping = False

    def submit(self, items: Iterable[T]) -> None:
        for item in items:
            key = self.key(item)
            lane = self._lanes.setdefault(key, deque())
            if any(queued.id == item.id for queued in lane):
                continue
            lane.append(item)
            if key not in self._running:
                self._running[key] = asyncio.get_running_loop().create_task(self._drain(key))

    @property
    def in_flight(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    @property
    def busy(self) -> set[K]:
        return set(self._lanes)

    async def _drain(self, key: K) -> None:
        lane = self._lanes[key]
        try:
            while lane and not self.stopping:
                item = lane[0]
                try:
                    await self.work(item, lane)
                finally:
                    if lane and lane[0] is item:
                        lane.popleft()
                    if self.done is not None:
                        self.done(item)
        except Exception:  # a bug in one lane must not leave the key stuck for good: its items come back later
            log.exception("%s %s stopped", self.name, key)
        finally:
            self._running.pop(key, None)
            if not lane or self.stopping:
                self._lanes.pop(key, None)

    async def stop(self, grace: float) -> bool:
        """Each lane finishes the item it is on (for at most ``grace`` seconds); False if some did not."""
        self.stopping = True
        for lane in self._lanes.values():
            while len(lane) > 1:
                lane.pop()
        running = list(self._running.values())
        if not running:
            return True
        _, pending = await asyncio.wait(running, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return not pending

    async def drained(self, timeout: float) -> bool:
        """Wait until every lane is empty; False when ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._running:
            if loop.time() > deadline:
                return False
            await asyncio.wait(list(self._running.values()), timeout=0.05)
        return True


class Poller:
    """Runs ``look`` (how many it found) again at once while it finds ``full``, else after ``poll`` s or a wake.

    ``jitter`` spreads each pause over ``poll`` ± that share: processes polling one queue at the same
    cadence would otherwise keep their phases, and the one just ahead would take nearly everything
    that comes due."""

    def __init__(self, look: Callable[[], Awaitable[int]], *, full: int, what: str, jitter: float = 0.0) -> None:
        self.look = look
        self.full = full
        self.what = what
        self.jitter = jitter
        self._wake = asyncio.Event()
        self.stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self.stopping = True
        self._wake.set()

    async def run(self, poll: float) -> None:
        while not self.stopping:
            self._wake.clear()
            try:
                found = await self.look()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("looking for %s failed", self.what)
                found = 0
            if found < self.full:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll * random.uniform(1 - self.jitter, 1 + self.jitter))
