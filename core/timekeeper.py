"""Fires the machines' due timers: claimed with a lease (a dead worker's are taken up), each fired once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from core.engine import Engine
from core.lanes import Poller
from core.ports import Store

log = logging.getLogger(__name__)

BATCH = 100
LEASE = timedelta(seconds=60)
WORKER_SILENCE = timedelta(seconds=10)  # as the intake's and the outbox's: a worker silent this long is dead


class Timekeeper:
    name = "timers"

    def __init__(self, store: Store, engine: Engine, clock: Callable[[], datetime], worker_id: str,
                 poll_seconds: float = 1.0) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.worker_id = worker_id
        self.poll_seconds = poll_seconds
        self.poller = Poller(self.fire_due, full=BATCH, what="due timers")

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        await self.poller.run(self.poll_seconds)

    async def stop(self) -> None:
        self.poller.stop()

    async def fire_due(self) -> int:
        now = self.clock()
        async with self.store.transaction() as tx:
            due = await tx.timers.claim_due(now, self.worker_id, now + LEASE, now - WORKER_SILENCE, BATCH)
        for timer in due:
            try:
                await self.engine.fire(timer)
            except Exception:  # one machine's bug must not keep the others' timers from firing
                log.exception("timer %s (%s of person %s) failed", timer.name, timer.scenario, timer.person_id)
        return len(due)
