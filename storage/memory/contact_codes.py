"""Codes proving an e-mail address or a phone number, in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.channels import ChannelName
from core.ports.contact_codes import ContactCode
from core.ports.personal_data import ERASED, ErasureSubject
from storage.memory.table import Table, utc


class MemoryContactCodes:
    def __init__(self, codes: Table[int, ContactCode], persons: Table) -> None:
        self._codes = codes
        self._persons = persons

    def _live(self, code: ContactCode, now: datetime) -> bool:
        return code.used_at is None and code.expires_at > now

    async def issue(self, person_id: int, channel: ChannelName, address: str, code_hash: str, now: datetime,
                    expires_at: datetime, origin: tuple[ChannelName, str] | None = None,
                    link_hash: str | None = None) -> ContactCode:
        self._persons.one(person_id)
        for code in self._codes.where(lambda c: c.person_id == person_id and c.channel == channel
                                      and self._live(c, now)):
            self._codes.put(code.id, replace(code, expires_at=utc(now)))
        code = ContactCode(self._codes.next_id(), person_id, channel, address, code_hash, utc(now), utc(expires_at),
                           origin_channel=origin[0] if origin else None, origin_account=origin[1] if origin else None,
                           link_hash=link_hash)
        return self._codes.put(code.id, code)

    async def live(self, person_id: int, channel: ChannelName, now: datetime) -> ContactCode | None:
        found = self._codes.where(lambda c: c.person_id == person_id and c.channel == channel and self._live(c, now))
        return max(found, key=lambda c: c.id, default=None)

    async def find(self, link_hash: str, now: datetime) -> ContactCode | None:
        found = self._codes.where(lambda c: c.link_hash == link_hash and self._live(c, now))
        return max(found, key=lambda c: c.id, default=None)

    async def fail(self, code_id: int) -> int:
        code = self._codes.one(code_id)
        return self._codes.put(code_id, replace(code, failures=code.failures + 1)).failures

    async def use(self, code_id: int, now: datetime) -> None:
        self._codes.put(code_id, replace(self._codes.one(code_id), used_at=utc(now)))

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        mine = self._codes.where(lambda c: c.person_id == subject.person_id)
        for code in mine:
            self._codes.put(code.id, replace(code, address=ERASED, origin_account=None))
        return len(mine)

    async def issued_since(self, *, since: datetime, person_id: int | None = None,
                           address: str | None = None) -> int:
        return len(self._codes.where(lambda c: c.created_at >= since
                                     and (person_id is None or c.person_id == person_id)
                                     and (address is None or c.address == address)))
