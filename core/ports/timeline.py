"""A person's unified timeline: what they sent and were sent on every channel, their receipts, money and merges.

The timeline is made of sources, each a bounded, indexed read of one aggregate; a feature
adds its own (draw entries and wins, router decisions) beside these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    source: str  # inbound | outbound | receipt | ledger | merge | ticket
    row_id: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, str, int]:
        return (self.at, self.source, self.row_id)


class TimelineRepository(Protocol):
    async def of_person(self, person_id: int, *, before: datetime | None = None,
                        limit: int = 100) -> list[TimelineItem]:
        """The newest ``limit`` items before ``before`` (all of them when None), newest first."""
        ...
