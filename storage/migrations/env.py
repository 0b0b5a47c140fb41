"""Alembic environment: run by ``storage.database.migrate`` with a live connection, or by the CLI."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from storage.tables import metadata

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_environment() -> None:
    from core.settings import Settings
    from storage.database import create_engine

    engine = create_engine(Settings(database_url=os.environ.get("DATABASE_URL",
                                                                Settings().database_url)).database_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_from_environment())
