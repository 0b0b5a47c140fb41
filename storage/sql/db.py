"""One connection in one transaction, speaking SQLAlchemy Core, with the driver's errors in the core's words.

Writes nobody reads back in the same unit of work (the message log, account activity, new
outbox rows) are kept and written at flush as one ``executemany`` each: an event then costs
a few statements, not ten.

The connection is asynchronous (asyncpg) or, for SQLite, a plain one used inline: a statement
on a local SQLite file takes tens of microseconds, while the asynchronous driver spends ten
times that handing every cursor call to its thread and back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Executable, Insert, Row, Update
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ConflictError, CoreError

# serialization failure, deadlock, lock not available, unique violation: another writer got there first
CONFLICT_SQLSTATES = {"40001", "40P01", "55P03", "23505"}


class StorageIntegrityError(CoreError):
    """A constraint other than a unique key failed: a bug, never retried."""


def translate(error: DBAPIError) -> CoreError:
    original = error.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    cause = getattr(original, "__cause__", None)
    code = code or getattr(cause, "sqlstate", None)
    text = str(original)
    if code in CONFLICT_SQLSTATES or "UNIQUE constraint failed" in text or "database is locked" in text:
        return ConflictError(text)
    if isinstance(error, IntegrityError):
        return StorageIntegrityError(text)
    return CoreError(text)


class Db:
    def __init__(self, connection: AsyncConnection | Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self._batched: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        self._after_flush: list[Callable[[], Awaitable[None]]] = []
        self._last: list[Callable[[], Awaitable[None]]] = []

    async def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        try:
            if isinstance(self.connection, Connection):
                return self.connection.execute(statement, params)
            return await self.connection.execute(statement, params)
        except DBAPIError as e:
            raise translate(e) from e

    async def rows(self, statement: Executable, params: Any = None) -> Sequence[Row[Any]]:
        return (await self.execute(statement, params)).all()

    async def first(self, statement: Executable, params: Any = None) -> Row[Any] | None:
        return (await self.execute(statement, params)).first()

    async def scalar(self, statement: Executable, params: Any = None) -> Any:
        return (await self.execute(statement, params)).scalar()

    def later(self, statement: Insert | Update, values: dict[str, Any]) -> None:
        """Run ``statement`` with ``values`` at flush, batched with every other use of the same statement."""
        key = id(statement)
        if key not in self._batched:
            self._batched[key] = (statement, [])
        self._batched[key][1].append(values)

    def after_flush(self, work: Callable[[], Awaitable[None]]) -> None:
        self._after_flush.append(work)

    def at_end_of_flush(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` once everything else of the flush is written (domain events: the ids they name exist)."""
        self._last.append(work)

    async def flush(self) -> None:
        batched, self._batched = self._batched, {}
        for statement, values in batched.values():
            await self.execute(statement, values)
        work, self._after_flush = self._after_flush, []
        for step in work:
            await step()
        last, self._last = self._last, []
        for step in last:
            await step()
