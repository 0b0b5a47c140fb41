"""The core's ``Store`` on SQLAlchemy Core: SQLite (one process) or PostgreSQL (several).

A unit of work is one connection in one transaction; its repositories share it, and
whatever they keep for later is written at flush, just before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ports.person_owned import PersonOwned
from storage.sql.db import Db, translate
from storage.sql.inbox import SqlInbox, SqlWorkers
from storage.sql.ledger import SqlLedger
from storage.sql.link_codes import SqlLinkCodes
from storage.sql.messages import SqlMessages
from storage.sql.people import SqlPeople
from storage.sql.receipts import SqlReceipts
from storage.sql.scenario_states import SqlScenarioStates

__all__ = ["SqlStore", "SqlUnitOfWork"]


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

    def person_owned(self) -> Iterator[PersonOwned]:
        yield from (self.people, self.receipts, self.ledger, self.messages)


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.kind = engine.dialect.name
        self.single_process = self.kind == "sqlite"
        # SQLite has one writer at a time anyway; queueing here avoids its sleeping busy handler.
        self._writer = asyncio.Lock() if self.single_process else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self._writer or contextlib.nullcontext():
            try:
                async with self.engine.connect() as connection, connection.begin():
                    unit = SqlUnitOfWork(Db(connection))
                    yield unit
                    await unit.db.flush()
            except DBAPIError as e:
                raise translate(e) from e
