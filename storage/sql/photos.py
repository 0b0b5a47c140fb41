"""Receipt and support photos in SQL."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.ports.person_owned import Moved
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.tables.photos import photos
from storage.tables.receipts import receipts
from storage.tables.support import ticket_events

OWNED = (photos,)
_put = {dialect: insert(photos).on_conflict_do_nothing()
        for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}
_get = select(photos.c.data).where(photos.c.person_id == bindparam("person_"), photos.c.sha256 == bindparam("sha_"))


class SqlPhotos:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def put(self, person_id: int, data: bytes, now: datetime) -> str:
        sha = hashlib.sha256(data).hexdigest()
        await self.db.execute(_put[self.db.dialect], {"person_id": person_id, "sha256": sha, "data": data,
                                                      "size": len(data), "created_at": now})
        return sha

    async def get(self, person_id: int, sha256: str) -> bytes | None:
        return await self.db.scalar(_get, {"person_": person_id, "sha_": sha256})

    async def purge_unlinked(self, before: datetime) -> int:
        """Photos neither a receipt nor a support ticket keeps, older than ``before``."""
        by_receipt = exists().where(and_(receipts.c.person_id == photos.c.person_id,
                                         receipts.c.photo_sha256 == photos.c.sha256))
        by_ticket = exists().where(and_(ticket_events.c.person_id == photos.c.person_id,
                                        ticket_events.c.photo_sha256 == photos.c.sha256))
        result = await self.db.execute(delete(photos).where(photos.c.created_at < before, ~by_receipt, ~by_ticket))
        return int(result.rowcount)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)
