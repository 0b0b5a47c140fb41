"""Codes proving an e-mail address or a phone number, in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update

from core.channels import ChannelName
from core.ports.contact_codes import ContactCode
from core.ports.personal_data import ERASED, ErasureSubject
from storage.sql.db import Db
from storage.sql.records import record
from storage.tables.routing import contact_codes

_c = contact_codes.c


def _code(row: object) -> ContactCode:
    return record(ContactCode, row, channel=ChannelName(row.channel),  # type: ignore[attr-defined]
                  origin_channel=ChannelName(row.origin_channel) if row.origin_channel else None)  # type: ignore[attr-defined]


class SqlContactCodes:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def issue(self, person_id: int, channel: ChannelName, address: str, code_hash: str, now: datetime,
                    expires_at: datetime, origin: tuple[ChannelName, str] | None = None,
                    link_hash: str | None = None) -> ContactCode:
        await self.db.execute(update(contact_codes).where(
            _c.person_id == person_id, _c.channel == channel, _c.used_at.is_(None), _c.expires_at > now)
            .values(expires_at=now))
        values = {"person_id": person_id, "channel": channel, "address": address, "code_hash": code_hash,
                  "created_at": now, "expires_at": expires_at, "failures": 0,
                  "origin_channel": origin[0] if origin else None, "origin_account": origin[1] if origin else None,
                  "link_hash": link_hash}
        code_id = await self.db.scalar(insert(contact_codes).values(**values).returning(_c.id))
        return ContactCode(id=code_id, **{k: v for k, v in values.items()})  # type: ignore[arg-type]

    async def live(self, person_id: int, channel: ChannelName, now: datetime) -> ContactCode | None:
        row = await self.db.first(select(contact_codes).where(
            _c.person_id == person_id, _c.channel == channel, _c.used_at.is_(None), _c.expires_at > now)
            .order_by(_c.id.desc()).limit(1))
        return None if row is None else _code(row)

    async def find(self, link_hash: str, now: datetime) -> ContactCode | None:
        row = await self.db.first(select(contact_codes).where(
            _c.link_hash == link_hash, _c.used_at.is_(None), _c.expires_at > now).order_by(_c.id.desc()).limit(1))
        return None if row is None else _code(row)

    async def fail(self, code_id: int) -> int:
        return int(await self.db.scalar(update(contact_codes).where(_c.id == code_id)
                                        .values(failures=_c.failures + 1).returning(_c.failures)))

    async def use(self, code_id: int, now: datetime) -> None:
        await self.db.execute(update(contact_codes).where(_c.id == code_id).values(used_at=now))

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """The addresses codes went to, and where they were asked from, go; when and how many stay."""
        result = await self.db.execute(update(contact_codes).where(_c.person_id == subject.person_id)
                                       .values(address=ERASED, origin_account=None))
        return int(result.rowcount or 0)

    async def issued_since(self, *, since: datetime, person_id: int | None = None,
                           address: str | None = None) -> int:
        query = select(func.count()).select_from(contact_codes).where(_c.created_at >= since)
        if person_id is not None:
            query = query.where(_c.person_id == person_id)
        if address is not None:
            query = query.where(_c.address == address)
        return int(await self.db.scalar(query))
