"""Keeps every process's view of channel health in step with the store, and moves work off a channel that fell.

Every few seconds: the changes this process measured are logged, the managers' marks are read
(one mark in the console reaches every process), and for each channel that has just gone down
the routed messages waiting to retry on it are made due, so that the router places them on the
person's next channel now rather than after their backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core.channels import ChannelName
from core.health import ChannelHealth, Condition
from core.lanes import Poller
from core.ports import Store

log = logging.getLogger(__name__)


class HealthWatch:
    name = "channel health"

    def __init__(self, store: Store, health: ChannelHealth, clock: Callable[[], datetime], *,
                 wake_outbox: Callable[[], None], poll_seconds: float = 2.0) -> None:
        self.store = store
        self.health = health
        self.clock = clock
        self.wake_outbox = wake_outbox
        self.poll_seconds = poll_seconds
        self._fallen: list[ChannelName] = []
        self.poller = Poller(self.pass_once, full=1 << 30, what="channel health")
        health.listeners.append(self._went_down)

    def _went_down(self, channel: ChannelName, condition: Condition) -> None:
        log.warning("channel %s is down (%s): routed messages go to the next channel", channel, condition.reason)
        self._fallen.append(channel)
        self.poller.wake()

    async def start(self) -> None:
        await self.pass_once()  # the marks in force are known before the first message is routed

    async def run(self) -> None:
        await self.poller.run(self.poll_seconds)

    async def stop(self) -> None:
        self.poller.stop()
        await self._log_changes()

    async def pass_once(self) -> int:
        await self._log_changes()
        async with self.store.transaction() as tx:
            marks = await tx.channel_health.marks()
        self.health.heed_marks(marks)
        hurried = 0
        while self._fallen:
            channel = self._fallen.pop(0)
            async with self.store.transaction() as tx:
                hurried += await tx.messages.hurry(channel, self.clock())
        if hurried:
            log.info("%d messages waiting on a channel that is down go to their next channel now", hurried)
            self.wake_outbox()
        return 0

    async def _log_changes(self) -> None:
        changes = self.health.take_changes()
        if changes:
            async with self.store.transaction() as tx:
                for change in changes:
                    await tx.channel_health.record(change)
