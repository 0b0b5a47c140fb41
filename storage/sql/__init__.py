"""The core's ``Store`` on SQLAlchemy Core: SQLite (one process) or PostgreSQL (several).

A unit of work is one connection in one transaction; its repositories share it, and
whatever they keep for later is written at flush, just before the commit. PostgreSQL is
reached through asyncpg. SQLite, a file this process alone writes, is used inline through a
plain connection (see ``storage.sql.db``); its WAL is checkpointed by a thread of its own, so
the fsync a checkpoint needs never holds up the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ports.person_owned import PersonOwned
from core.ports.personal_data import PersonalData
from storage.database import inline_sqlite_engine
from storage.sql.broadcasts import SqlBroadcasts
from storage.sql.campaigns import SqlCampaigns
from storage.sql.channel_health import SqlChannelHealth
from storage.sql.contact_codes import SqlContactCodes
from storage.sql.db import Db, translate
from storage.sql.draws import SqlDraws
from storage.sql.erasure import SqlCorePersonalData
from storage.sql.events import SqlEvents
from storage.sql.inbox import SqlInbox, SqlWorkers
from storage.sql.ledger import SqlLedger
from storage.sql.link_codes import SqlLinkCodes
from storage.sql.messages import SqlMessages
from storage.sql.people import SqlPeople
from storage.sql.photos import SqlPhotos
from storage.sql.receipts import SqlReceipts
from storage.sql.reports import SqlReports
from storage.sql.routes import SqlRoutes
from storage.sql.scenario_states import SqlScenarioStates
from storage.sql.staff import SqlStaff
from storage.sql.tickets import SqlTickets
from storage.sql.timeline import SqlTimeline
from storage.sql.timers import SqlTimers


class SqlUnitOfWork:
    def __init__(self, db: Db) -> None:
        self.db = db
        self.people = SqlPeople(db)
        self.states = SqlScenarioStates(db)
        self.link_codes = SqlLinkCodes(db)
        self.receipts = SqlReceipts(db)
        self.ledger = SqlLedger(db)
        self.messages = SqlMessages(db)
        self.inbox = SqlInbox(db)
        self.workers = SqlWorkers(db)
        self.photos = SqlPhotos(db)
        self.campaigns = SqlCampaigns(db)
        self.draws = SqlDraws(db)
        self.tickets = SqlTickets(db)
        self.staff = SqlStaff(db)
        self.timeline = SqlTimeline(db)
        self.reports = SqlReports(db)
        self.core_personal_data = SqlCorePersonalData(db)
        self.routes = SqlRoutes(db)
        self.contact_codes = SqlContactCodes(db)
        self.broadcasts = SqlBroadcasts(db)
        self.events = SqlEvents(db)
        self.timers = SqlTimers(db)
        self.channel_health = SqlChannelHealth(db)

    def person_owned(self) -> Iterator[PersonOwned]:
        yield from (self.campaigns, self.draws)
        yield from (self.people, self.receipts, self.ledger, self.messages, self.photos, self.routes)
        yield from (self.tickets, self.timers)

    def personal_data(self) -> Iterator[PersonalData]:
        yield from (self.core_personal_data, self.tickets, self.draws, self.routes, self.contact_codes, self.receipts)


log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 5.0  # seconds


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.kind = engine.dialect.name
        self.single_process = self.kind == "sqlite"
        # SQLite has one writer at a time anyway; queueing here avoids its sleeping busy handler.
        self._writer = asyncio.Lock() if self.single_process else None
        self._inline: Engine | None = inline_sqlite_engine(engine.url) if self.single_process else None
        self._closing = threading.Event()
        if self._inline is not None:
            threading.Thread(target=self._checkpoint, name="sqlite-checkpoint", daemon=True).start()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlUnitOfWork]:
        if self._inline is not None:
            async with self._inline_transaction() as unit:
                yield unit
            return
        async with self._writer or contextlib.nullcontext():
            try:
                async with self.engine.connect() as connection, connection.begin():
                    unit = SqlUnitOfWork(Db(connection))
                    yield unit
                    await unit.db.flush()
            except DBAPIError as e:
                raise translate(e) from e

    @asynccontextmanager
    async def _inline_transaction(self) -> AsyncIterator[SqlUnitOfWork]:
        assert self._inline is not None and self._writer is not None
        async with self._writer:
            try:
                with self._inline.connect() as connection, connection.begin():
                    unit = SqlUnitOfWork(Db(connection))
                    yield unit
                    await unit.db.flush()
            except DBAPIError as e:
                raise translate(e) from e

    def _checkpoint(self) -> None:
        """Move the WAL into the database file now and then, off the event loop (it fsyncs)."""
        path = self.engine.url.database
        if not path or path == ":memory:":
            return
        connection = sqlite3.connect(path, timeout=1.0)
        try:
            while not self._closing.wait(CHECKPOINT_EVERY):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # a busy database now is a checkpoint a little later
                    log.debug("WAL checkpoint skipped", exc_info=True)
        finally:
            connection.close()

    async def close(self) -> None:
        self._closing.set()
        if self._inline is not None:
            self._inline.dispose()
