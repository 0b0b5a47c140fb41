"""Group commit: units of work that arrive together share one transaction and one commit.

Each unit stays all-or-nothing for itself: when any unit of a batch fails, the batch is
rolled back and every unit runs again alone, so one person's conflict or bug never
costs another person's step. On SQLite, whose single writer makes every transaction
wait its turn, this turns a queue of small commits into a few larger ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.ports import Store, UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[UnitOfWork], Awaitable[Any]]


class GroupCommit:
    def __init__(self, store: Store, max_batch: int = 64, concurrency: int | None = None) -> None:
        self.store = store
        self.max_batch = max_batch
        # SQLite writes one transaction at a time anyway; PostgreSQL can overlap a few batches
        self.concurrency = concurrency or (1 if store.single_process else 4)
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._leaders = 0

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction shared with whatever else is waiting; its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._leaders < self.concurrency:
            self._leaders += 1
            asyncio.get_running_loop().create_task(self._lead())
        return await future

    async def _lead(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch:]
                await self._commit(batch)
        finally:
            self._leaders -= 1

    async def _commit(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        if len(batch) > 1:
            try:
                async with self.store.transaction() as tx:
                    results = [await work(tx) for work, _ in batch]
            except Exception:  # somebody's unit failed: each runs alone below, to find out whose
                log.debug("a batch of %d units failed; running them one by one", len(batch))
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                return
        for work, future in batch:
            try:
                async with self.store.transaction() as tx:
                    result = await work(tx)
            except Exception as e:  # handed to the caller waiting for this unit
                if not future.done():
                    future.set_exception(e)
            else:
                if not future.done():
                    future.set_result(result)
