"""Broadcasts and the segments they go to, in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from core.identity import Person
from core.ports.broadcasts import Broadcast, Recipient
from core.ports.draws import AWARDED
from core.ports.receipts import ReceiptStatus
from storage.memory.table import Table, json_copy, utc

WAITING = (ReceiptStatus.VERIFYING, ReceiptStatus.MODERATION)


class MemoryBroadcasts:
    def __init__(self, broadcasts: Table[int, Broadcast], persons: Table[int, Person], receipts: Table,
                 winners: Table | None = None) -> None:
        self._broadcasts = broadcasts
        self._persons = persons
        self._receipts = receipts
        self._winners = winners

    async def create(self, template: str, params: dict[str, Any], segment: str, now: datetime, *,
                     advertising: bool = False) -> Broadcast:
        broadcast = Broadcast(self._broadcasts.next_id(), template, json_copy(params), segment, utc(now), 0,
                              advertising)
        return self._broadcasts.put(broadcast.id, broadcast)

    async def set_people(self, broadcast_id: int, people: int) -> None:
        self._broadcasts.put(broadcast_id, replace(self._broadcasts.one(broadcast_id), people=people))

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return self._broadcasts.get(broadcast_id)

    async def recent(self, limit: int = 20) -> list[Broadcast]:
        return sorted(self._broadcasts.rows(), key=lambda b: b.id, reverse=True)[:limit]

    def _page(self, after_id: int, limit: int, wanted: set[int] | None = None) -> list[Recipient]:
        people = self._persons.where(lambda p: p.id > after_id and p.is_registered and p.merged_into_id is None
                                     and p.withdrawn_at is None
                                     and (wanted is None or p.id in wanted))
        return [Recipient(p.id, p.locale) for p in sorted(people, key=lambda p: p.id)[:limit]]

    async def registered(self, after_id: int, limit: int) -> list[Recipient]:
        return self._page(after_id, limit)

    async def with_pending_receipt(self, after_id: int, limit: int) -> list[Recipient]:
        waiting = {r.person_id for r in self._receipts.where(lambda r: r.status in WAITING)}
        return self._page(after_id, limit, waiting)

    async def participants(self, campaign: str, after_id: int, limit: int) -> list[Recipient]:
        accepted = {r.person_id for r in self._receipts.where(
            lambda r: r.campaign == campaign and r.status is ReceiptStatus.ACCEPTED)}
        return self._page(after_id, limit, accepted)

    async def winners(self, draw_id: int, after_id: int, limit: int) -> list[Recipient]:
        assert self._winners is not None, "built without the draws' winners"
        won = {w.person_id for w in self._winners.where(lambda w: w.draw_id == draw_id and w.status in AWARDED)}
        return self._page(after_id, limit, won)

    async def among(self, person_ids: list[int]) -> list[Recipient]:
        return self._page(0, len(person_ids), set(person_ids))
