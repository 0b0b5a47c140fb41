"""Receipt and support photos in memory; (person, content) is kept once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from core.ports.person_owned import Moved
from storage.memory.receipts import ReceiptTables
from storage.memory.table import Table, reassign_rows, restore_rows, utc
from storage.memory.tickets import TicketTables


@dataclass(frozen=True)
class PhotoRow:
    id: int
    person_id: int
    sha256: str
    data: bytes
    created_at: datetime


class MemoryPhotos:
    def __init__(self, table: Table[int, PhotoRow], persons: Table, receipts: ReceiptTables,
                 tickets: TicketTables) -> None:
        self._t = table
        self._persons = persons
        self._receipts = receipts
        self._tickets = tickets

    async def put(self, person_id: int, data: bytes, now: datetime) -> str:
        self._persons.one(person_id)
        sha = hashlib.sha256(data).hexdigest()
        if self._t.find("content", (person_id, sha)) is None:
            row_id = self._t.next_id()
            self._t.put(row_id, PhotoRow(row_id, person_id, sha, bytes(data), utc(now)))
        return sha

    async def get(self, person_id: int, sha256: str) -> bytes | None:
        row = self._t.find("content", (person_id, sha256))
        return None if row is None else row.data

    async def purge_unlinked(self, before: datetime) -> int:
        linked = {(r.person_id, r.photo_sha256) for r in self._receipts.receipts.rows()}
        linked |= {(e.person_id, e.photo_sha256) for e in self._tickets.events.rows() if e.photo_sha256}
        old = self._t.where(lambda p: p.created_at < before and (p.person_id, p.sha256) not in linked)
        for row in old:
            self._t.delete(row.id)
        return len(old)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows([self._t], absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows([self._t], moved, person_id)
