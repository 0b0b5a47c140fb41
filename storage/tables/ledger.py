"""The cashback ledger: transactions of postings that sum to zero, and payout requests."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

payouts = Table(
    "payouts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("amount_kopecks", BigInteger, nullable=False),
    Column("phone", String(20), nullable=False),
    Column("status", String(16), nullable=False),  # core.ports.ledger.PayoutStatus
    Column("requested_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime),
    Index(None, "status", "requested_at"),
)

ledger_transactions = Table(
    "ledger_transactions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("receipt_id", ForeignKey("receipts.id"), index=True),
    Column("payout_id", ForeignKey("payouts.id"), index=True),
    Column("created_at", UtcDateTime, nullable=False),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_id", ForeignKey("ledger_transactions.id"), nullable=False, index=True),
    Column("account", String(24), nullable=False),
    Column("person_id", ForeignKey("persons.id")),
    Column("amount_kopecks", BigInteger, nullable=False),
    Index(None, "person_id", "account"),
)
