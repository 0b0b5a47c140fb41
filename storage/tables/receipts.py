"""Receipts and the flags that send them to staff."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

receipts = Table(
    "receipts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("campaign", String(32), nullable=False),
    Column("fn", BigInteger, nullable=False),
    Column("document_number", BigInteger, nullable=False),
    Column("fiscal_sign", BigInteger, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("sum_kopecks", BigInteger, nullable=False),
    Column("operation", Integer, nullable=False),
    Column("canonical", String(160), nullable=False),
    Column("source", String(16), nullable=False),  # photo | typed | manual
    Column("status", String(24), nullable=False),  # core.ports.receipts.ReceiptStatus
    Column("cashback_kopecks", BigInteger, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_check_at", UtcDateTime),
    Column("check_attempts", Integer, nullable=False, default=0),
    Column("photo_sha256", String(64)),  # the photo it was read from, kept in ``photos``
    Column("counted_at", UtcDateTime),  # when it became accepted: a draw's list takes what was counted before its close
    UniqueConstraint("fn", "document_number", "fiscal_sign"),
    Index(None, "person_id", "created_at"),
    Index(None, "status", "next_check_at"),
)

receipt_flags = Table(
    "receipt_flags", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("receipt_id", ForeignKey("receipts.id"), nullable=False, index=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("reason", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
)
