"""Hands stored domain events to the machines that wait for them, each event once, in order, across restarts.

The feed's position is held and moved in the same transaction as the steps the events made, so a
crash repeats nothing and loses nothing. The bus wakes the feed when such an event commits here;
events committed by other processes are found at the next poll. An event whose step fails (a bug)
is logged and passed over, alone, so that it does not hold back everyone after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core.bus import Bus
from core.domain_events import Happened
from core.engine import Engine
from core.lanes import Poller
from core.ports import QueuedMessage, Store
from core.triggers import listening_kinds

log = logging.getLogger(__name__)

CONSUMER = "machines"
BATCH = 100


class EventFeed:
    name = "domain event feed"

    def __init__(self, store: Store, engine: Engine, clock: Callable[[], datetime], *, bus: Bus | None = None,
                 poll_seconds: float = 1.0, batch: int = BATCH) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.kinds = sorted(listening_kinds(engine.catalog))
        self.poller = Poller(self.pass_once, full=batch, what="domain events")
        if bus is not None and self.kinds:
            bus.subscribe(lambda _: self.poller.wake(), *(Happened(kind) for kind in self.kinds))

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        if self.kinds:  # no machine waits for any event: nothing to feed
            await self.poller.run(self.poll_seconds)

    async def stop(self) -> None:
        self.poller.stop()

    async def pass_once(self) -> int:
        """Apply the next batch; how many events it took (0 while another worker holds the feed)."""
        try:
            return await self._apply(self.batch)
        except Exception:  # one of them fails: take them one at a time, to pass over only that one
            return await self._apply_alone()

    async def _apply(self, limit: int) -> int:
        queued: list[QueuedMessage] = []
        async with self.store.transaction() as tx:
            position = await tx.events.hold(CONSUMER)
            if position is None:
                return 0
            batch = await tx.events.after(position, limit, self.kinds)
            for _, event in batch:
                queued += await self.engine.apply_happened(tx, event, self.clock())
            if batch:
                await tx.events.advance(CONSUMER, batch[-1][0])
        if queued and self.engine.deliver is not None:
            self.engine.deliver(queued)
        return len(batch)

    async def _apply_alone(self) -> int:
        try:
            return await self._apply(1)
        except Exception:  # rolled back, its step with it: move past it in a transaction of its own
            async with self.store.transaction() as tx:
                position = await tx.events.hold(CONSUMER)
                if position is None:
                    return 0
                for where, event in await tx.events.after(position, 1, self.kinds):
                    log.exception("domain event %s (%s) could not be applied; passed over", event.id, event.kind)
                    await tx.events.advance(CONSUMER, where)
            return 1
