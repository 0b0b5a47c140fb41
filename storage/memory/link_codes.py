"""Link codes and the attempts to use them, in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.channels import ChannelName
from core.identity import LinkCode
from core.ports.link_codes import FAILED_OUTCOMES, LinkAttempt
from storage.memory.table import Table, utc


class LinkTables:
    def __init__(self) -> None:
        # LinkCode records are never changed in place: a save puts a new one.
        self.codes: Table[int, LinkCode] = Table("link_codes")
        self.attempts: Table[int, LinkAttempt] = Table("link_attempts")

    def all(self) -> list[Table]:
        return [self.codes, self.attempts]


class MemoryLinkCodes:
    def __init__(self, tables: LinkTables) -> None:
        self._t = tables

    async def create(self, code: LinkCode) -> LinkCode:
        row = replace(code, id=self._t.codes.next_id(), created_at=utc(code.created_at),
                      expires_at=utc(code.expires_at), used_at=utc(code.used_at))
        return replace(self._t.codes.put(row.id, row))

    async def find(self, code: str) -> LinkCode | None:
        rows = self._t.codes.where(lambda c: c.code == code)
        return replace(max(rows, key=lambda c: (c.created_at, c.id))) if rows else None

    async def get(self, code_id: int) -> LinkCode:
        return replace(self._t.codes.one(code_id))

    async def expire_for(self, person_id: int, now: datetime) -> None:
        now = utc(now)
        for row in self._t.codes.where(lambda c: c.person_id == person_id and c.used_at is None
                                       and c.expires_at > now):
            self._t.codes.put(row.id, replace(row, expires_at=now))

    async def save(self, code: LinkCode) -> None:
        row = self._t.codes.one(code.id)
        self._t.codes.put(row.id, replace(row, used_at=utc(code.used_at), expires_at=utc(code.expires_at)))

    async def record_attempt(self, attempt: LinkAttempt) -> LinkAttempt:
        row = replace(attempt, id=self._t.attempts.next_id(), at=utc(attempt.at))
        return self._t.attempts.put(row.id, row)

    async def get_attempt(self, attempt_id: int) -> LinkAttempt | None:
        return self._t.attempts.get(attempt_id)

    async def count_failures(self, since: datetime, *, channel: ChannelName | None = None,
                             external_id: str | None = None, code_id: int | None = None) -> int:
        """Attempts whose outcome is in the port's ``FAILED_OUTCOMES``, at or after ``since``."""
        def counts(a: LinkAttempt) -> bool:
            return (a.outcome in FAILED_OUTCOMES and a.at >= since
                    and (channel is None or a.channel == channel)
                    and (external_id is None or a.external_id == external_id)
                    and (code_id is None or a.code_id == code_id))

        return sum(1 for attempt in self._t.attempts.rows() if counts(attempt))

    async def attempts(self, limit: int = 1000) -> list[LinkAttempt]:
        return sorted(self._t.attempts.rows(), key=lambda a: (a.at, a.id), reverse=True)[:limit]
