"""Campaigns and their members in memory; a campaign is kept as the written mapping, like SQL keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import ConflictError
from core.ports.campaigns import Membership
from core.ports.person_owned import Moved
from promo.campaign_file import from_mapping, to_mapping
from promo.campaigns import Campaign, CampaignStatus
from storage.memory.table import Table, json_copy, reassign_rows, restore_rows, utc


@dataclass(frozen=True)
class CampaignRow:
    code: str
    status: str
    rules: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MemberRow:
    id: int
    person_id: int
    campaign: str
    source: str
    joined_at: datetime


class CampaignTables:
    def __init__(self) -> None:
        self.campaigns: Table[str, CampaignRow] = Table("campaigns")
        self.members: Table[int, MemberRow] = Table("campaign_members")

    def all(self) -> list[Table]:
        return [self.campaigns, self.members]


def _campaign(row: CampaignRow) -> Campaign:
    return from_mapping(row.rules, CampaignStatus(row.status))


class MemoryCampaigns:
    def __init__(self, tables: CampaignTables, persons: Table) -> None:
        self._t = tables
        self._persons = persons

    async def add(self, campaign: Campaign, now: datetime) -> None:
        if self._t.campaigns.get(campaign.code) is not None:
            raise ConflictError(f"campaigns: code {campaign.code!r} is taken")
        self._t.campaigns.put(campaign.code, CampaignRow(campaign.code, campaign.status.value,
                                                         json_copy(to_mapping(campaign)), utc(now), utc(now)))

    async def save(self, campaign: Campaign, now: datetime) -> None:
        row = self._t.campaigns.one(campaign.code)
        self._t.campaigns.put(campaign.code, CampaignRow(campaign.code, campaign.status.value,
                                                         json_copy(to_mapping(campaign)), row.created_at, utc(now)))

    async def get(self, code: str) -> Campaign | None:
        row = self._t.campaigns.get(code)
        return None if row is None else _campaign(row)

    async def all(self) -> list[Campaign]:
        found = [_campaign(row) for row in self._t.campaigns.rows()]
        return sorted(found, key=lambda c: (c.starts_on, c.code))

    async def join(self, person_id: int, code: str, source: str, now: datetime) -> None:
        self._persons.one(person_id)
        row_id = self._t.members.next_id()
        self._t.members.put(row_id, MemberRow(row_id, person_id, code, source, utc(now)))

    async def memberships(self, person_id: int) -> list[Membership]:
        rows = sorted(self._t.members.where(lambda m: m.person_id == person_id),
                      key=lambda m: (m.joined_at, m.id), reverse=True)
        return [Membership(m.person_id, m.campaign, m.source, m.joined_at) for m in rows]

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows([self._t.members], absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows([self._t.members], moved, person_id)
