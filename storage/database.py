"""Building the database engine for SQLite or PostgreSQL, and bringing its schema up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from core.errors import CoreError

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
INLINE_BUSY_TIMEOUT_MS = 250  # inline, a wait blocks the event loop: a short one, then the caller retries
MIGRATION_LOCK_KEY = 7_346_111  # any constant: one PostgreSQL advisory lock for schema upgrades


class StorageError(CoreError):
    """The database cannot be reached or prepared."""


def create_engine(url: str, **options: Any) -> AsyncEngine:
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        _make_sqlite_serialise_writers(engine)
    return engine


def _make_sqlite_serialise_writers(engine: AsyncEngine | Engine, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
                                   checkpoint_inline: bool = True) -> None:
    """WAL + BEGIN IMMEDIATE: writers queue on the busy timeout instead of failing on lock upgrade."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below own transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # a crashed process loses nothing committed
        if not checkpoint_inline:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def inline_sqlite_engine(url: URL) -> Engine:
    """A plain (blocking) engine on the same SQLite file, for use on the event loop: one connection."""
    engine = create_sync_engine(url.set(drivername="sqlite"), poolclass=StaticPool)
    _make_sqlite_serialise_writers(engine, INLINE_BUSY_TIMEOUT_MS, checkpoint_inline=False)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    command.upgrade(alembic_config(connection), "heads")  # "heads": a branch not merged yet still upgrades


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration; several processes starting at once upgrade only once."""
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    except (OSError, OperationalError, DBAPIError) as e:
        reason = getattr(e, "orig", None) or e
        raise StorageError(f"cannot prepare the database at {engine.url.render_as_string()}: {reason}") from e
