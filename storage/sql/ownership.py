"""Moving a person's rows to another person (a merge) and back (undoing it), for any table with ``person_id``."""

from __future__ import annotations

from sqlalchemy import Table, update

from core.ports.person_owned import Moved
from storage.sql.db import Db


async def move_rows(db: Db, tables: tuple[Table, ...], absorbed_id: int, survivor_id: int) -> Moved:
    await db.flush()
    moved: Moved = {}
    for table in tables:
        rows = await db.rows(update(table).where(table.c.person_id == absorbed_id)
                             .values(person_id=survivor_id).returning(table.c.id))
        if rows:
            moved[table.name] = sorted(row[0] for row in rows)
    return moved


async def restore_rows(db: Db, tables: tuple[Table, ...], moved: Moved, person_id: int) -> int:
    await db.flush()
    count = 0
    for table in tables:
        ids = moved.get(table.name)
        if ids:
            result = await db.execute(update(table).where(table.c.id.in_(ids)).values(person_id=person_id))
            count += result.rowcount
    return count
