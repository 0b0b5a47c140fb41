"""The durable intake: an update is stored before its channel is told it arrived, then processed from there.

``receive`` commits the updates (and the channel's poll cursor) and only then returns, so a
channel acknowledges nothing that a crash could lose. Each person's updates are processed in
the order they came, one at a time (so one person has at most one photo being decoded);
different people go in parallel. An update left unprocessed by a process that died — or by
this one, when the database was away — is taken up again by the recovery loop; applying it
twice is harmless, since the engine finishes the stored update in the same transaction. An update
that fails ``DEAD_AFTER`` times is set aside as dead with its error (``Engine.give_up``): its
sender is asked to send it again, staff see it in the console and may retry it. Nothing
acknowledged is dropped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from core.channels import ChannelProfile
from core.engine import Engine
from core.events import InboundEvent
from core.group_commit import GroupCommit
from core.lanes import Lanes, Poller
from core.ports import InboxEntry, NewUpdate, Store, UnitOfWork

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a live worker's hold on an update; a dead worker's ends at once
WORKER_SILENCE = timedelta(seconds=10)
RETRY_AFTER = timedelta(seconds=30)
# A poison update fails the same way every time; five attempts 30 s apart (two minutes) outlast a database
# failover or a restart, and its sender, asked to send it again, still remembers what they sent.
DEAD_AFTER = 5
RECOVERY_BATCH = 100


class UpdateReader(Protocol):
    """A channel turns one of its stored updates into the core's event (through its own library)."""

    profile: ChannelProfile  # whom to answer through when the update cannot be read

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        """None when the update holds nothing for us (a group chat, an edit, a service event)."""
        ...


class Intake:
    name = "intake"

    def __init__(self, store: Store, engine: Engine, readers: Mapping[str, UpdateReader], *,
                 clock: Callable[[], datetime], worker_id: str, committer: GroupCommit | None = None) -> None:
        self.store = store
        self.engine = engine
        self.readers = dict(readers)
        self.clock = clock
        self.worker_id = worker_id
        self.committer = committer or GroupCommit(store)
        self.lanes: Lanes[tuple[str, str], InboxEntry] = Lanes(
            lambda entry: (entry.bot, entry.account_id or f"update:{entry.id}"), self._work, name="intake lane")
        self.poller = Poller(self._recover, full=RECOVERY_BATCH, what="unprocessed updates")

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
        self.lanes.submit(entries)

    async def _work(self, entry: InboxEntry, _lane: object) -> None:
        await self._process(entry)

    async def _process(self, entry: InboxEntry) -> None:
        reader = self.readers.get(entry.bot)
        try:
            if reader is None:
                raise LookupError(f"no channel here reads {entry.bot}")
            event = await reader.read(entry)
            if event is None:
                await self.committer.run(lambda tx: tx.inbox.finish(entry.id, self.clock()))
            else:
                await self.engine.handle(replace(event, inbox_id=entry.id))
        except Exception as e:  # the database or the channel is away: the update waits, it is not lost
            await self._failed(entry, reader, repr(e)[:500])

    async def _failed(self, entry: InboxEntry, reader: UpdateReader | None, error: str) -> None:
        """Called while the failure is being handled (its traceback is logged); ``error`` is kept with the update."""
        if entry.attempts + 1 < DEAD_AFTER:
            log.exception("update %s of %s could not be processed; trying again later", entry.update_id, entry.bot)
            await self._retry_later(entry, error)
            return
        log.exception("update %s of %s failed %d times; set aside as dead", entry.update_id, entry.bot,
                      entry.attempts + 1)
        # no channel here for its bot (a token since replaced): nobody to answer through, staff still see it
        sender = (reader.profile.name, entry.account_id) if reader is not None and entry.account_id else None
        try:
            await self.engine.give_up(entry.id, error, sender)
        except Exception:  # the database is away: still unprocessed, it is taken up (and set aside) later
            log.exception("update %s of %s could not be set aside; trying again later", entry.update_id, entry.bot)
            await self._retry_later(entry, error)

    async def _retry_later(self, entry: InboxEntry, error: str) -> None:
        retry_at = self.clock() + RETRY_AFTER
        with contextlib.suppress(Exception):  # not even that could be written: its lease runs out instead
            await self.committer.run(lambda tx: tx.inbox.fail(entry.id, error, retry_at))

    # recovery ----------------------------------------------------------------------------

    def wake(self) -> None:
        self.poller.wake()

    async def start(self) -> None:
        return None

    async def run(self, poll: float = 2.0) -> None:
        """Take up updates nobody is working on: left by a dead worker, or waiting for a retry."""
        await self.poller.run(poll)

    async def _recover(self) -> int:
        now = self.clock()
        async with self.store.transaction() as tx:
            stale = await tx.inbox.claim_stale(now, self.worker_id, now - WORKER_SILENCE, RECOVERY_BATCH,
                                               lease_until=now + LEASE)
        if stale:
            log.info("taking up %d updates left unprocessed", len(stale))
            self.schedule(stale)
        return len(stale)

    async def stop(self, grace: float = 10.0) -> bool:
        """Finish the update each person's lane is on; False if some were still running after ``grace``."""
        self.poller.stop()
        finished = await self.lanes.stop(grace)
        if not finished:
            log.warning("some updates were still being processed; they are taken up at the next start")
        return finished

    async def drained(self, timeout: float) -> bool:
        return await self.lanes.drained(timeout)
