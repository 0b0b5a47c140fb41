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


@dataclass(frozen=True)
class Recipient:
    person_id: int
    locale: str


class BroadcastRepository(Protocol):
    async def create(self, template: str, params: dict[str, Any], segment: str, now: datetime) -> Broadcast: ...
    async def set_people(self, broadcast_id: int, people: int) -> None: ...
    async def get(self, broadcast_id: int) -> Broadcast | None: ...
    async def recent(self, limit: int = 20) -> list[Broadcast]: ...

    async def registered(self, after_id: int, limit: int) -> list[Recipient]:
        """Registered people (not merged into another), by id, after ``after_id``: a page of the segment."""
        ...
    async def with_pending_receipt(self, after_id: int, limit: int) -> list[Recipient]:
        """Registered people who have a receipt still being checked."""
        ...
