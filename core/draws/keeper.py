"""The keeper: freezes each draw's list at its entries' close, runs draws when due (once their beacon round is out),
hands prizes on at deadlines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.draws.common import BeaconSource, DrawRefused
from core.draws.freezing import freeze_list
from core.draws.prizes import expire_overdue
from core.draws.running import run_draw
from core.draws.scheduling import entries_close
from core.errors import ConflictError
from core.ports import Store
from core.ports.draws import Draw
from core.service import Periodic

if TYPE_CHECKING:
    from core.draws.sealing import SeedSeal

log = logging.getLogger(__name__)

SAY_AGAIN = timedelta(minutes=10)  # a draw left waiting is said again this often, never only once and never silently


class DrawKeeper:
    """Freezes lists as entries close, runs draws when due and hands prizes on at deadlines; a service.

    The freeze is its own pass before any draw: a list closes within ``poll_seconds`` of its entries, while its
    beacon round is still at least the campaign's margin away. What it does reaches the winners by itself: the
    notices it queues are domain events the outbox wakes for."""

    name = "draws"

    def __init__(self, store: Store, beacons: BeaconSource | None, clock: Callable[[], datetime],
                 winner_hours: int, poll_seconds: float = 30.0, *, seal: SeedSeal | None = None) -> None:
        self.store = store
        self.beacons = beacons
        self.clock = clock
        self.winner_hours = winner_hours
        self.seal = seal
        self._said: dict[tuple[int, str], datetime] = {}
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
            scheduled = await tx.draws.scheduled()
            closing = []
            for draw in scheduled:
                campaign = await tx.campaigns.get(draw.campaign)
                if not draw.frozen and campaign is not None and entries_close(campaign, draw) <= now:
                    closing.append(draw)
            await expire_overdue(tx, now, self.winner_hours)
        for draw in closing:
            await self._freeze(draw, now)
        for draw in scheduled:
            if draw.draw_at <= now:
                await self._run(draw, now)

    async def _freeze(self, draw: Draw, now: datetime) -> None:
        try:
            async with self.store.transaction() as tx:
                frozen = await freeze_list(tx, draw.id, now)
            log.info("draw %s (%s/%s): list frozen, %s participants, SHA-256 %s", draw.id, draw.campaign, draw.code,
                     frozen.participants, frozen.entries_hash)
        except ConflictError:
            log.info("draw %s: its list was frozen elsewhere, or the draw was cancelled meanwhile", draw.id)
        except DrawRefused as e:
            self._say(draw, e)

    async def _run(self, draw: Draw, now: datetime) -> None:
        try:
            await run_draw(self.store, draw.id, now, self.beacons, self.winner_hours, seal=self.seal)
            log.info("draw %s (%s/%s) drawn", draw.id, draw.campaign, draw.code)
        except DrawRefused as e:
            if e.reason != "beacon_not_yet":
                self._say(draw, e)
        except ConflictError:
            log.info("draw %s is being run elsewhere", draw.id)

    def _say(self, draw: Draw, refusal: DrawRefused) -> None:
        """A draw that cannot go on is said plainly, and again every ``SAY_AGAIN`` while it waits."""
        now, key = self.clock(), (draw.id, refusal.reason)
        if key in self._said and now - self._said[key] < SAY_AGAIN:
            return
        self._said[key] = now
        log.warning("draw %s (%s/%s) waits: %s", draw.id, draw.campaign, draw.code, refusal)
