"""After a crash or a fault: does the money add up, person by person, against the receipts themselves?

The ledger's own invariant (every movement sums to zero) holds by construction; what a crash or an
outage could break is the link between the ledger and the receipts: a receipt stored twice, a
redelivered update accruing a second time, an accrual whose receipt was rolled back, a receipt left
without its accrual. ``check_ledger`` reads the platform's database (SQLite or PostgreSQL) after the
platform stopped writing to it and asserts, per person, that what the ledger holds is exactly the
cashback of the receipts that count:

* pending == the cashback of their receipts awaiting a check or staff (verifying, moderation);
* available + requested + paid out == the cashback of their accepted receipts;
* per receipt, at most one accrual, approval and reversal, each of its own cashback and person,
  a rejected receipt's accrual reversed, and one ``receipt.accepted`` event;
* no receipt twice (the fiscal key, or the canonical QR text);
* and, when the test says who sent which receipts, those and only those were stored for them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.channels import ChannelName
from promo.ledger import PERSON_ACCOUNTS, LedgerAccount
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from storage.tables.events import domain_events
from storage.tables.ledger import ledger_entries, ledger_transactions, payouts
from storage.tables.people import channel_accounts
from storage.tables.receipts import receipts

AWAITING = {"verifying", "moderation"}
Account = tuple[str, str]  # (channel, external id)
FN, FP = 7380440700123456, 2964503817
CASHBACK = 6250  # kopecks: 5 % of a ``receipt``'s 1 250,00


def receipt(number: int) -> str:
    """A typed QR text (the same path as a photo's), of document number ``number``: one receipt, known by it."""
    return f"t=20261201T1530&s=1250.00&fn={FN}&i={number}&fp={FP}&n=1"


async def seed_registered(database_url: str, accounts: Iterable[Account], consent_version: str = "2026-11") -> None:
    """People already registered (name, phone, consent) behind these accounts, so a test's burst can send receipts
    straight away; the database is migrated first."""
    engine = create_engine(database_url)
    await migrate(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    try:
        async with store.transaction() as tx:
            for n, (channel, external_id) in enumerate(accounts):
                person = await tx.people.create("ru", now)
                person.name, person.phone, person.registered_at = f"Покупатель {n}", f"+7913{n:07d}", now
                await tx.people.save(person)
                await tx.people.add_account(person.id, ChannelName(channel), external_id, "", now)
                await tx.people.add_consent(person.id, consent_version, ChannelName(channel), now)
    finally:
        await store.close()
        await engine.dispose()


@dataclass(frozen=True)
class LedgerSummary:
    people: int  # people with a receipt or a posting
    receipts: int
    accrued_kopecks: int  # cashback of the receipts that count (not rejected)


async def _rows(database_url: str) -> dict[str, list[Any]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = {}
            for name, query in {
                "receipts": select(receipts.c.id, receipts.c.person_id, receipts.c.fn, receipts.c.document_number,
                                   receipts.c.fiscal_sign, receipts.c.canonical, receipts.c.status,
                                   receipts.c.cashback_kopecks),
                "transactions": select(ledger_transactions.c.id, ledger_transactions.c.kind,
                                       ledger_transactions.c.receipt_id, ledger_transactions.c.payout_id),
                "entries": select(ledger_entries.c.transaction_id, ledger_entries.c.account,
                                  ledger_entries.c.person_id, ledger_entries.c.amount_kopecks),
                "payouts": select(payouts.c.id, payouts.c.person_id, payouts.c.amount_kopecks, payouts.c.status),
                "accepted": select(domain_events.c.data).where(domain_events.c.kind == "receipt.accepted"),
                "accounts": select(channel_accounts.c.channel, channel_accounts.c.external_id,
                                   channel_accounts.c.person_id),
            }.items():
                found[name] = list((await connection.execute(query)).all())
            return found
    finally:
        await engine.dispose()


async def check_ledger(database_url: str, sent: Mapping[Account, set[int]] | None = None) -> LedgerSummary:
    """Assert that the ledger balances per person against the receipts; ``sent``: per account, the document
    numbers (``i=``) of the receipts it confirmed, when the test knows them (they must all be stored, once)."""
    rows = await _rows(database_url)
    problems: list[str] = []
    entries_of: dict[int, list[Any]] = defaultdict(list)
    for entry in rows["entries"]:
        entries_of[entry.transaction_id].append(entry)
    for transaction in rows["transactions"]:
        postings = entries_of.get(transaction.id, [])
        if len(postings) < 2 or sum(p.amount_kopecks for p in postings) != 0:
            problems.append(f"transaction {transaction.id} ({transaction.kind}) does not balance: {postings}")
    if sum(e.amount_kopecks for e in rows["entries"]) != 0:
        problems.append("the postings do not sum to zero")

    by_key = Counter((r.fn, r.document_number, r.fiscal_sign) for r in rows["receipts"])
    by_text = Counter(r.canonical for r in rows["receipts"])
    problems += [f"receipt {key} stored {n} times" for key, n in by_key.items() if n > 1]
    problems += [f"receipt {text!r} stored {n} times" for text, n in by_text.items() if n > 1]
    accepted_events = Counter(int(data["receipt_id"]) for (data,) in rows["accepted"])

    # per receipt: the movements that name it, and the person money they moved
    moved: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    receipt_person = {r.id: r.person_id for r in rows["receipts"]}
    for transaction in rows["transactions"]:
        if transaction.receipt_id is None:
            continue
        person_postings = [p for p in entries_of.get(transaction.id, []) if p.account in PERSON_ACCOUNTS]
        moved[transaction.receipt_id][transaction.kind].append(max((abs(p.amount_kopecks) for p in person_postings),
                                                                   default=0))
        owner = receipt_person.get(transaction.receipt_id)
        if any(p.person_id != owner for p in person_postings):
            problems.append(f"transaction {transaction.id} of receipt {transaction.receipt_id} moves money of "
                            f"people {sorted({p.person_id for p in person_postings})}, not of {owner}")
    expected_pending: Counter[int] = Counter()
    expected_earned: Counter[int] = Counter()
    for receipt in rows["receipts"]:
        kinds = moved.get(receipt.id, {})
        cashback = int(receipt.cashback_kopecks)
        if accepted_events[receipt.id] != 1:
            problems.append(f"receipt {receipt.id}: {accepted_events[receipt.id]} receipt.accepted events")
        for kind, amounts in kinds.items():
            if len(amounts) > 1:
                problems.append(f"receipt {receipt.id}: {len(amounts)} {kind} movements {amounts}")
        want = {"accrual": [cashback] if cashback else []}
        if receipt.status == "accepted":
            want["approval"] = [cashback] if cashback else []
            expected_earned[receipt.person_id] += cashback
        elif receipt.status in AWAITING:
            expected_pending[receipt.person_id] += cashback
        elif receipt.status == "rejected":
            want["reversal"] = [cashback] if cashback else []
        else:
            problems.append(f"receipt {receipt.id}: unknown status {receipt.status!r}")
        got = {kind: sorted(kinds.get(kind, [])) for kind in ("accrual", "approval", "reversal")}
        want = {kind: want.get(kind, []) for kind in got}
        if got != want:
            problems.append(f"receipt {receipt.id} ({receipt.status}, cashback {cashback}): movements {got}, "
                            f"expected {want}")

    balances: dict[int, Counter[str]] = defaultdict(Counter)
    for entry in rows["entries"]:
        if entry.account in PERSON_ACCOUNTS:
            if entry.person_id is None:
                problems.append(f"a posting to {entry.account} of nobody (transaction {entry.transaction_id})")
                continue
            balances[entry.person_id][entry.account] += entry.amount_kopecks
    paid: Counter[int] = Counter()
    for payout in rows["payouts"]:
        if payout.status == "paid":
            paid[payout.person_id] += int(payout.amount_kopecks)
    people = set(balances) | set(expected_pending) | set(expected_earned) | set(paid)
    for person in sorted(people):
        held = balances[person]
        pending = held[LedgerAccount.PENDING.value]
        earned = held[LedgerAccount.AVAILABLE.value] + held[LedgerAccount.REQUESTED.value] + paid[person]
        if (pending, earned) != (expected_pending[person], expected_earned[person]):
            problems.append(f"person {person}: pending {pending}, earned {earned} (available, requested and paid); "
                            f"their receipts: pending {expected_pending[person]}, earned {expected_earned[person]}")
        if any(amount < 0 for amount in held.values()):
            problems.append(f"person {person}: a negative balance {dict(held)}")

    if sent is not None:
        person_of = {(a.channel, a.external_id): a.person_id for a in rows["accounts"]}
        stored: dict[int, Counter[int]] = defaultdict(Counter)
        for receipt in rows["receipts"]:
            stored[receipt.person_id][int(receipt.document_number)] += 1
        for account, numbers in sent.items():
            person = person_of.get(account)
            have = stored.get(person, Counter()) if person is not None else Counter()
            if set(have) != numbers or any(n != 1 for n in have.values()):
                problems.append(f"{account}: confirmed receipts {sorted(numbers)}, stored {dict(have)}")
    assert not problems, "the ledger does not match the receipts:\n" + "\n".join(problems)
    return LedgerSummary(len(people), len(rows["receipts"]), sum(expected_pending.values())
                         + sum(expected_earned.values()))
