"""What only the SQL stores have: migrations that build exactly the tables, and time zones on the way back."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.database import alembic_config
from storage.sql import SqlStore
from storage.tables import metadata


async def test_migrations_build_exactly_the_tables(db_engine) -> None:
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with db_engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_times_come_back_aware_and_in_utc(db_engine) -> None:
    from datetime import datetime

    store = SqlStore(db_engine)
    moscow = timezone(timedelta(hours=3))
    created = datetime(2026, 3, 1, 12, 0, tzinfo=moscow)
    async with store.transaction() as tx:
        person = await tx.people.create("ru", created)
    async with store.transaction() as tx:
        again = await tx.people.get(person.id)
    await store.close()
    assert again.created_at == created and again.created_at.tzinfo == UTC


def test_migrations_end_in_one_head() -> None:
    """Parallel feature branches are merged, so the next migration has one parent to name."""
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
