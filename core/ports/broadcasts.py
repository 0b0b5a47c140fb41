"""Broadcasts: one template to a segment of people, and who is in today's segments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Broadcast:
    id: int
    template: str
    params: dict[str, Any]
    segment: str  # as the manager named it: "registered", "pending-receipt", …
    created_at: datetime
    people: int  # how many messages were queued
    advertising: bool = False  # goes only where the person gave advertising consent (``core.gates.advertising``)


@dataclass(frozen=True)
class Recipient:
    person_id: int
    locale: str


class BroadcastRepository(Protocol):
    async def create(self, template: str, params: dict[str, Any], segment: str, now: datetime, *,
                     advertising: bool = False) -> Broadcast: ...
    async def set_people(self, broadcast_id: int, people: int) -> None: ...
    async def get(self, broadcast_id: int) -> Broadcast | None: ...
    async def recent(self, limit: int = 20) -> list[Broadcast]: ...

    async def registered(self, after_id: int, limit: int) -> list[Recipient]:
        """Registered people (not merged into another), by id, after ``after_id``: a page of the segment."""
        ...
    async def with_pending_receipt(self, after_id: int, limit: int) -> list[Recipient]:
        """Registered people who have a receipt still being checked."""
        ...
    async def participants(self, campaign: str, after_id: int, limit: int) -> list[Recipient]:
        """Registered people with an accepted receipt in the campaign."""
        ...
    async def winners(self, draw_id: int, after_id: int, limit: int) -> list[Recipient]:
        """Registered people who won a prize of the draw (told, unreached, confirmed or sent: not reserves)."""
        ...
    async def among(self, person_ids: list[int]) -> list[Recipient]:
        """Those of these people who are registered (not merged, not erased), by id."""
        ...
