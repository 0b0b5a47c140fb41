"""Link codes and the audit of attempts to use them, in SQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, insert, select, update

from core.channels import ChannelName
from core.identity import LinkCode
from core.ports.link_codes import FAILED_OUTCOMES, LinkAttempt, LinkOutcome
from storage.sql.db import Db
from storage.sql.records import record
from storage.tables.link_codes import link_attempts, link_codes


def _code(row: object) -> LinkCode:
    return record(LinkCode, row, channel=ChannelName(row.channel),  # type: ignore[attr-defined]
                  account_id=row.account_external_id)  # type: ignore[attr-defined]


def _attempt(row: object) -> LinkAttempt:
    return record(LinkAttempt, row, channel=ChannelName(row.channel),  # type: ignore[attr-defined]
                  outcome=LinkOutcome(row.outcome))  # type: ignore[attr-defined]


class SqlLinkCodes:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def create(self, code: LinkCode) -> LinkCode:
        code_id = await self.db.scalar(insert(link_codes).values(
            person_id=code.person_id, code=code.code, channel=code.channel, account_external_id=code.account_id,
            created_at=code.created_at, expires_at=code.expires_at, used_at=code.used_at).returning(link_codes.c.id))
        return replace(code, id=code_id)

    async def find(self, code: str) -> LinkCode | None:
        row = await self.db.first(select(link_codes).where(link_codes.c.code == code)
                                  .order_by(link_codes.c.created_at.desc(), link_codes.c.id.desc()).limit(1))
        return None if row is None else _code(row)

    async def get(self, code_id: int) -> LinkCode:
        row = await self.db.first(select(link_codes).where(link_codes.c.id == code_id))
        if row is None:
            raise LookupError(f"no link code {code_id}")
        return _code(row)

    async def expire_for(self, person_id: int, now: datetime) -> None:
        await self.db.execute(update(link_codes).where(
            link_codes.c.person_id == person_id, link_codes.c.used_at.is_(None),
            link_codes.c.expires_at > now).values(expires_at=now))

    async def save(self, code: LinkCode) -> None:
        await self.db.execute(update(link_codes).where(link_codes.c.id == code.id).values(
            expires_at=code.expires_at, used_at=code.used_at))

    async def record_attempt(self, attempt: LinkAttempt) -> LinkAttempt:
        attempt_id = await self.db.scalar(insert(link_attempts).values(
            channel=attempt.channel, external_id=attempt.external_id[:128], code_id=attempt.code_id,
            outcome=attempt.outcome.value, at=attempt.at).returning(link_attempts.c.id))
        return replace(attempt, id=attempt_id, external_id=attempt.external_id[:128])

    async def get_attempt(self, attempt_id: int) -> LinkAttempt | None:
        row = await self.db.first(select(link_attempts).where(link_attempts.c.id == attempt_id))
        return None if row is None else _attempt(row)

    async def count_failures(self, since: datetime, *, channel: ChannelName | None = None,
                             external_id: str | None = None, code_id: int | None = None) -> int:
        query = select(func.count()).select_from(link_attempts).where(
            link_attempts.c.at >= since, link_attempts.c.outcome.in_(sorted(FAILED_OUTCOMES)))
        if channel is not None:
            query = query.where(link_attempts.c.channel == channel)
        if external_id is not None:
            query = query.where(link_attempts.c.external_id == external_id)
        if code_id is not None:
            query = query.where(link_attempts.c.code_id == code_id)
        return int(await self.db.scalar(query) or 0)

    async def attempts(self, limit: int = 1000) -> list[LinkAttempt]:
        rows = await self.db.rows(select(link_attempts).order_by(link_attempts.c.at.desc(), link_attempts.c.id.desc())
                                  .limit(limit))
        return [_attempt(row) for row in rows]
