"""Campaigns as stored data, and which campaigns each person entered (the latest one is their current)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.ports.person_owned import Moved
from promo.campaigns import Campaign


@dataclass(frozen=True)
class Membership:
    person_id: int
    campaign: str
    source: str  # link (a pack's deep link) | chosen (in the bot) | only (the one campaign running)
    joined_at: datetime


class CampaignRepository(Protocol):
    async def add(self, campaign: Campaign, now: datetime) -> None:
        """``ConflictError`` when the code is taken."""
        ...
    async def save(self, campaign: Campaign, now: datetime) -> None:
        """Every field of the campaign with this code; ``LookupError`` when there is none."""
        ...
    async def get(self, code: str) -> Campaign | None: ...
    async def all(self) -> list[Campaign]:
        """Every campaign, by start day then code."""
        ...

    async def join(self, person_id: int, code: str, source: str, now: datetime) -> None:
        """The person enters the campaign (again): it becomes their current one."""
        ...
    async def memberships(self, person_id: int) -> list[Membership]:
        """The campaigns the person entered, the most recently entered first."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
