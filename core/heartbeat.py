"""This process says it is alive, so its leases hold; a process that stopped beating loses them within seconds.

Where only one process may run (SQLite), every worker found at start-up is a dead one: its
leases are taken over at once. Processed updates are forgotten after a week, long after any
channel would redeliver them; photos no receipt came of, after a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from core.ports import Store

log = logging.getLogger(__name__)

KEEP_PROCESSED_UPDATES = timedelta(days=7)
KEEP_UNUSED_PHOTOS = timedelta(days=1)  # a photo no receipt came of (refused, not confirmed) is personal data
PURGE_EVERY = timedelta(hours=1)


def new_worker_id() -> str:
    return uuid.uuid4().hex


class Heartbeat:
    name = "heartbeat"

    def __init__(self, store: Store, worker_id: str, clock: Callable[[], datetime], every: float = 2.0) -> None:
        self.store = store
        self.worker_id = worker_id
        self.clock = clock
        self.every = every
        self._stopping = asyncio.Event()
        self._purged_at: datetime | None = None

    async def start(self) -> None:
        async with self.store.transaction() as tx:
            if self.store.single_process:
                gone = await tx.workers.forget_others(self.worker_id)
                if gone:
                    log.info("%d earlier process(es) did not stop cleanly: taking over their work", gone)
            await tx.workers.beat(self.worker_id, self.clock())

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every)
            if self._stopping.is_set():
                break
            try:
                now = self.clock()
                async with self.store.transaction() as tx:
                    await tx.workers.beat(self.worker_id, now)
                    if self._purged_at is None or now - self._purged_at > PURGE_EVERY:
                        await tx.inbox.purge(now - KEEP_PROCESSED_UPDATES)
                        await tx.photos.purge_unlinked(now - KEEP_UNUSED_PHOTOS)
                        self._purged_at = now
            except Exception:  # a missed beat or two is fine; the loop must go on
                log.exception("heartbeat failed")

    async def stop(self) -> None:
        """A clean stop: whatever this worker still holds is free for the next one at once."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            async with self.store.transaction() as tx:
                await tx.workers.forget(self.worker_id)
