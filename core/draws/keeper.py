"""The keeper: runs draws when they are due (once their beacon round is out), hands prizes on at deadlines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core.draws.common import BeaconSource, DrawRefused
from core.draws.prizes import expire_overdue
from core.draws.running import run_draw
from core.errors import ConflictError
from core.ports import Store
from core.service import Periodic

log = logging.getLogger(__name__)


class DrawKeeper:
    """Runs draws when they are due (once their beacon round is out) and hands prizes on at deadlines; a service.

    What it does reaches the winners by itself: the notices it queues are domain events the outbox wakes for."""

    name = "draws"

    def __init__(self, store: Store, beacons: BeaconSource | None, clock: Callable[[], datetime],
                 winner_hours: int, poll_seconds: float = 30.0) -> None:
        self.store = store
        self.beacons = beacons
        self.clock = clock
        self.winner_hours = winner_hours
        self._loop = Periodic(self.name, self.pass_once, poll_seconds)

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        await self._loop.run()

    async def stop(self) -> None:
        await self._loop.stop()

    async def pass_once(self) -> None:
        now = self.clock()
        async with self.store.transaction() as tx:
            due = await tx.draws.due(now)
            await expire_overdue(tx, now, self.winner_hours)
        for draw in due:
            try:
                await run_draw(self.store, draw.id, now, self.beacons, self.winner_hours)
                log.info("draw %s (%s/%s) drawn", draw.id, draw.campaign, draw.code)
            except DrawRefused as e:
                if e.reason != "beacon_not_yet":
                    log.warning("draw %s not run: %s", draw.id, e)
            except ConflictError:
                log.info("draw %s is being run elsewhere", draw.id)
