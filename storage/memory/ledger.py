"""The double-entry ledger and payout requests, in memory."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from core.ports.ledger import Payout, PayoutStatus
from core.ports.person_owned import Moved
from promo.ledger import LedgerAccount, Movement
from storage.memory.table import Table, reassign_rows, restore_rows, utc


@dataclass(frozen=True)
class TransactionRow:
    id: int
    kind: str
    receipt_id: int | None
    payout_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class EntryRow:
    id: int
    transaction_id: int
    account: LedgerAccount
    person_id: int | None
    amount_kopecks: int


class LedgerTables:
    def __init__(self) -> None:
        self.transactions: Table[int, TransactionRow] = Table("ledger_transactions")
        self.entries: Table[int, EntryRow] = Table("ledger_entries")
        self.payouts: Table[int, Payout] = Table("payouts")

    def all(self) -> list[Table]:
        return [self.transactions, self.entries, self.payouts]

    def person_owned(self) -> list[Table[int, EntryRow] | Table[int, Payout]]:
        return [self.entries, self.payouts]


class MemoryLedger:
    def __init__(self, tables: LedgerTables, persons: Table, receipts: Table) -> None:
        self._t = tables
        self._persons = persons
        self._receipts = receipts

    async def post(self, movement: Movement, now: datetime, *, receipt_id: int | None = None,
                   payout_id: int | None = None) -> None:
        if receipt_id is not None:
            self._receipts.one(receipt_id)
        if payout_id is not None:
            self._t.payouts.one(payout_id)
        for posting in movement.postings:
            if posting.person_id is not None:
                self._persons.one(posting.person_id)
        transaction = TransactionRow(self._t.transactions.next_id(), movement.kind, receipt_id, payout_id, utc(now))
        self._t.transactions.put(transaction.id, transaction)
        for posting in movement.postings:
            entry = EntryRow(self._t.entries.next_id(), transaction.id, LedgerAccount(posting.account),
                             posting.person_id, posting.amount_kopecks)
            self._t.entries.put(entry.id, entry)

    async def balances(self, person_id: int) -> dict[LedgerAccount, int]:
        sums: dict[LedgerAccount, int] = defaultdict(int)
        for entry in self._t.entries.where(lambda e: e.person_id == person_id):
            sums[entry.account] += entry.amount_kopecks
        return dict(sums)

    async def total(self) -> int:
        return sum(entry.amount_kopecks for entry in self._t.entries.rows())

    async def add_payout(self, person_id: int, amount_kopecks: int, phone: str, now: datetime) -> Payout:
        self._persons.one(person_id)
        payout = Payout(self._t.payouts.next_id(), person_id, amount_kopecks, phone, PayoutStatus.REQUESTED, utc(now))
        return self._t.payouts.put(payout.id, payout)

    async def get_payout(self, payout_id: int) -> Payout | None:
        return self._t.payouts.get(payout_id)

    async def payouts(self, status: PayoutStatus | None = None, *, person_id: int | None = None) -> list[Payout]:
        rows = self._t.payouts.where(lambda p: (status is None or p.status == status)
                                     and (person_id is None or p.person_id == person_id))
        return sorted(rows, key=lambda p: (p.requested_at, p.id))

    async def settle_payout(self, payout_id: int, status: PayoutStatus, now: datetime) -> bool:
        payout = self._t.payouts.one(payout_id)
        if payout.status is not PayoutStatus.REQUESTED:
            return False
        paid_at = utc(now) if status is PayoutStatus.PAID else None
        self._t.payouts.put(payout_id, replace(payout, status=status, paid_at=paid_at))
        return True

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows(self._t.person_owned(), absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows(self._t.person_owned(), moved, person_id)
