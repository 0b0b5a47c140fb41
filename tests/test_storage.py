from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.events import Channel
from storage.models import Base


async def test_migrations_build_exactly_the_models(db_engine) -> None:
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with db_engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_times_come_back_aware_and_in_utc(store) -> None:
    moscow = timezone(timedelta(hours=3))
    created = datetime(2026, 3, 1, 12, 0, tzinfo=moscow)
    async with store.transaction() as tx:
        person = await tx.create_person("ru", created)
    async with store.transaction() as tx:
        again = await tx.get_person(person.id)
    assert again.created_at == created and again.created_at.tzinfo == UTC


async def test_one_account_per_channel_and_external_id(store) -> None:
    from core.errors import ConflictError

    now = datetime.now(UTC)
    async with store.transaction() as tx:
        person = await tx.create_person("ru", now)
        await tx.add_account(person.id, Channel.TELEGRAM, "1", "", now)
    try:
        async with store.transaction() as tx:
            other = await tx.create_person("ru", now)
            await tx.add_account(other.id, Channel.TELEGRAM, "1", "", now)
    except ConflictError:
        pass
    else:
        raise AssertionError("a second account with the same channel id was stored")
