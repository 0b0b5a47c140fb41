"""Campaigns and their members in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from core.ports.campaigns import Membership
from core.ports.person_owned import Moved
from promo.campaign_file import from_mapping, to_mapping
from promo.campaigns import Campaign, CampaignStatus
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.campaigns import campaign_members, campaigns

OWNED = (campaign_members,)
_memberships = (select(campaign_members).where(campaign_members.c.person_id == bindparam("person_"))
                .order_by(campaign_members.c.joined_at.desc(), campaign_members.c.id.desc()))


def _campaign(row: object) -> Campaign:
    return from_mapping(row.rules, CampaignStatus(row.status))  # type: ignore[attr-defined]


def _values(campaign: Campaign) -> dict[str, object]:
    return {"code": campaign.code, "title": campaign.title, "status": campaign.status.value,
            "starts_on": campaign.starts_on, "ends_on": campaign.ends_on, "rules": to_mapping(campaign)}


class SqlCampaigns:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, campaign: Campaign, now: datetime) -> None:
        await self.db.execute(insert(campaigns).values(**_values(campaign), created_at=now, updated_at=now))

    async def save(self, campaign: Campaign, now: datetime) -> None:
        result = await self.db.execute(update(campaigns).where(campaigns.c.code == campaign.code)
                                       .values(**_values(campaign), updated_at=now))
        if result.rowcount == 0:
            raise LookupError(f"no campaign {campaign.code!r}")

    async def get(self, code: str) -> Campaign | None:
        row = await self.db.first(select(campaigns).where(campaigns.c.code == code))
        return None if row is None else _campaign(row)

    async def all(self) -> list[Campaign]:
        rows = await self.db.rows(select(campaigns).order_by(campaigns.c.starts_on, campaigns.c.code))
        return [_campaign(row) for row in rows]

    async def join(self, person_id: int, code: str, source: str, now: datetime) -> None:
        await self.db.execute(insert(campaign_members).values(person_id=person_id, campaign=code, source=source,
                                                              joined_at=now))

    async def memberships(self, person_id: int) -> list[Membership]:
        rows = await self.db.rows(_memberships, {"person_": person_id})
        return [record(Membership, row) for row in rows]

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)
