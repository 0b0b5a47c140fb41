"""Broadcasts and the segments they go to, in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, insert, select, update

from core.ports.broadcasts import Broadcast, Recipient
from core.ports.draws import AWARDED
from core.ports.receipts import ReceiptStatus
from storage.sql.db import Db
from storage.sql.records import record
from storage.tables.draws import draw_winners
from storage.tables.people import persons
from storage.tables.receipts import receipts
from storage.tables.routing import broadcasts

# consent withdrawn (erased): no broadcast reaches them, nor counts them
_registered = (persons.c.registered_at.is_not(None), persons.c.merged_into_id.is_(None),
               persons.c.withdrawn_at.is_(None))
WAITING = (ReceiptStatus.VERIFYING.value, ReceiptStatus.MODERATION.value)


class SqlBroadcasts:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def create(self, template: str, params: dict[str, Any], segment: str, now: datetime, *,
                     advertising: bool = False) -> Broadcast:
        broadcast_id = await self.db.scalar(insert(broadcasts).values(
            template=template, params=params, segment=segment, created_at=now, people=0,
            advertising=advertising).returning(broadcasts.c.id))
        return Broadcast(broadcast_id, template, dict(params), segment, now, 0, advertising)

    async def set_people(self, broadcast_id: int, people: int) -> None:
        await self.db.execute(update(broadcasts).where(broadcasts.c.id == broadcast_id).values(people=people))

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self.db.first(select(broadcasts).where(broadcasts.c.id == broadcast_id))
        return None if row is None else record(Broadcast, row, params=dict(row.params))

    async def recent(self, limit: int = 20) -> list[Broadcast]:
        rows = await self.db.rows(select(broadcasts).order_by(broadcasts.c.id.desc()).limit(limit))
        return [record(Broadcast, row, params=dict(row.params)) for row in rows]

    async def _page(self, after_id: int, limit: int, *conditions: Any) -> list[Recipient]:
        rows = await self.db.rows(select(persons.c.id, persons.c.locale).where(
            persons.c.id > after_id, *_registered, *conditions).order_by(persons.c.id).limit(limit))
        return [Recipient(row.id, row.locale) for row in rows]

    async def registered(self, after_id: int, limit: int) -> list[Recipient]:
        return await self._page(after_id, limit)

    async def with_pending_receipt(self, after_id: int, limit: int) -> list[Recipient]:
        waiting = exists().where(receipts.c.person_id == persons.c.id, receipts.c.status.in_(WAITING))
        return await self._page(after_id, limit, waiting)

    async def participants(self, campaign: str, after_id: int, limit: int) -> list[Recipient]:
        accepted = exists().where(receipts.c.person_id == persons.c.id, receipts.c.campaign == campaign,
                                  receipts.c.status == ReceiptStatus.ACCEPTED.value)
        return await self._page(after_id, limit, accepted)

    async def winners(self, draw_id: int, after_id: int, limit: int) -> list[Recipient]:
        won = exists().where(draw_winners.c.person_id == persons.c.id, draw_winners.c.draw_id == draw_id,
                             draw_winners.c.status.in_([s.value for s in AWARDED]))
        return await self._page(after_id, limit, won)

    async def among(self, person_ids: list[int]) -> list[Recipient]:
        if not person_ids:
            return []
        return await self._page(0, len(person_ids), persons.c.id.in_(person_ids))
