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
    source: str  # inbound | outbound | receipt | ledger | merge | ticket | draw_entries | win | route
    row_id: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, str, int]:
        return (self.at, self.source, self.row_id)


MAX_CANDIDATES = 4  # a routing's candidates a timeline item keeps (the best first, then the dropped)


def draw_entries_data(campaign: str, draw_code: str, status: str, entries: int, receipts: int, total_entries: int,
                      participants: int) -> dict[str, Any]:
    """A person's entries in one draw, as one item: their count, from how many receipts, and the draw's total
    once it is drawn (the person's weight is ``entries / total``)."""
    return {"campaign": campaign, "draw": draw_code, "status": str(status), "entries": entries, "receipts": receipts,
            "total": total_entries, "participants": participants}


def win_data(campaign: str, draw_code: str, draw_id: int, tier: str, position: int, reserve: bool, status: str,
             deadline: datetime | None) -> dict[str, Any]:
    return {"campaign": campaign, "draw": draw_code, "draw_id": draw_id, "tier": tier, "position": position,
            "reserve": bool(reserve), "status": str(status), "deadline": deadline}


def decision_data(message_id: int, round_: int, channel: str | None, outcome: str, detail: str,
                  candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """A routing as one item: where it went, what came of it, and the candidates in short (channel, points or
    why dropped, what sending there gave), the best first."""
    short = [{"channel": str(c.get("channel") or ""), "score": c.get("score"), "dropped": c.get("dropped"),
              "outcome": c.get("outcome")} for c in candidates]
    return {"message": message_id, "round": round_, "channel": channel, "outcome": outcome, "detail": detail,
            "candidates": short[:MAX_CANDIDATES], "more": max(0, len(short) - MAX_CANDIDATES)}


class TimelineRepository(Protocol):
    async def of_person(self, person_id: int, *, before: datetime | None = None,
                        limit: int = 100) -> list[TimelineItem]:
        """The newest ``limit`` items before ``before`` (all of them when None), newest first."""
        ...
