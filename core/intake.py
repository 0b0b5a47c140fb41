"""The durable intake: an update is stored before its channel is told it arrived, then processed from there.

``receive`` commits the updates (and the channel's poll cursor) and only then returns, so a
channel acknowledges nothing that a crash could lose. Each person's updates are processed in
the order they came, one at a time (so one person has at most one photo being decoded);
different people go in parallel. An update left unprocessed by a process that died — or by
this one, when the database was away — is taken up again by the recovery loop; applying it
twice is harmless, since the engine finishes the stored update in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from core.engine import Engine
from core.events import InboundEvent
from core.group_commit import GroupCommit
from core.ports import InboxEntry, NewUpdate, Store, UnitOfWork

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a live worker's hold on an update; a dead worker's ends at once
WORKER_SILENCE = timedelta(seconds=10)
RETRY_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 10  # an update that fails this often is poison (a bug): logged and set aside, not retried for ever
RECOVERY_BATCH = 100


class UpdateReader(Protocol):
    """A channel turns one of its stored updates into the core's event (through its own library)."""

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        """None when the update holds nothing for us (a group chat, an edit, a service event)."""
        ...


class Intake:
    def __init__(self, store: Store, engine: Engine, readers: Mapping[str, UpdateReader], *,
                 clock: Callable[[], datetime], worker_id: str, committer: GroupCommit | None = None) -> None:
        self.store = store
        self.engine = engine
        self.readers = dict(readers)
        self.clock = clock
        self.worker_id = worker_id
        self.committer = committer or GroupCommit(store)
        self._lanes: dict[tuple[str, str], deque[InboxEntry]] = {}
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    async def receive(self, bot: str, updates: list[NewUpdate], cursor: str | None = None) -> int:
        """Store updates durably (with the poll cursor), then process them; returns once committed.

        The number of new updates (redeliveries of stored ones are not counted, nor processed again).
        """
        now = self.clock()

        async def store(tx: UnitOfWork) -> list[InboxEntry | None]:
            entries = await tx.inbox.add(bot, updates, self.worker_id, now, lease_until=now + LEASE)
            if cursor is not None:
                await tx.inbox.save_cursor(bot, cursor)
            return entries

        entries = [e for e in await self.committer.run(store) if e is not None]
        self.schedule(entries)
        return len(entries)

    async def cursor(self, bot: str) -> str | None:
        async with self.store.transaction() as tx:
            return await tx.inbox.cursor(bot)

    def schedule(self, entries: list[InboxEntry]) -> None:
        for entry in entries:
            key = (entry.bot, entry.account_id or f"update:{entry.id}")
            lane = self._lanes.setdefault(key, deque())
            if any(queued.id == entry.id for queued in lane):
                continue
            lane.append(entry)
            if key not in self._running:
                self._running[key] = asyncio.get_running_loop().create_task(self._drain(key))

    async def _drain(self, key: tuple[str, str]) -> None:
        lane = self._lanes[key]
        try:
            while lane and not self._stopping:
                await self._process(lane[0])
                lane.popleft()
        finally:
            self._running.pop(key, None)
            if not lane or self._stopping:
                self._lanes.pop(key, None)

    async def _process(self, entry: InboxEntry) -> None:
        reader = self.readers.get(entry.bot)
        if entry.attempts >= MAX_ATTEMPTS:
            log.error("update %s of %s failed %d times; set aside", entry.update_id, entry.bot, entry.attempts)
            await self.committer.run(lambda tx: tx.inbox.finish(entry.id, self.clock()))
            return
        try:
            if reader is None:
                raise LookupError(f"no channel here reads {entry.bot}")
            event = await reader.read(entry)
            if event is None:
                await self.committer.run(lambda tx: tx.inbox.finish(entry.id, self.clock()))
            else:
                await self.engine.handle(replace(event, inbox_id=entry.id))
        except Exception as e:  # the database or the channel is away: the update waits, it is not lost
            log.exception("update %s of %s could not be processed; trying again later", entry.update_id, entry.bot)
            error, retry_at = repr(e)[:500], self.clock() + RETRY_AFTER
            with contextlib.suppress(Exception):
                await self.committer.run(lambda tx: tx.inbox.fail(entry.id, error, retry_at))

    # recovery ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll: float = 2.0) -> None:
        """Take up updates nobody is working on: left by a dead worker, or waiting for a retry."""
        while not self._stopping:
            self._wake.clear()
            try:
                now = self.clock()
                async with self.store.transaction() as tx:
                    stale = await tx.inbox.claim_stale(now, self.worker_id, now - WORKER_SILENCE, RECOVERY_BATCH,
                                                       lease_until=now + LEASE)
                if stale:
                    log.info("taking up %d updates left unprocessed", len(stale))
                    self.schedule(stale)
            except Exception:
                log.exception("looking for unprocessed updates failed")
                stale = []
            if len(stale) < RECOVERY_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)

    async def stop(self, grace: float = 10.0) -> bool:
        """Finish the update each person's lane is on; False if some were still running after ``grace``."""
        self._stopping = True
        self._wake.set()
        running = list(self._running.values())
        if not running:
            return True
        _, pending = await asyncio.wait(running, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return not pending

    async def drained(self, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while self._running:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.wait(list(self._running.values()), timeout=0.05)
        return True
