"""What the receipt check returned for a receipt: the shop's INN, the items, the answer as it came."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table

from storage.tables.base import metadata
from storage.types import UtcDateTime

receipt_checks = Table(
    "receipt_checks", metadata,
    Column("receipt_id", ForeignKey("receipts.id"), primary_key=True),
    Column("shop_inn", String(12)),
    Column("items", JSON, nullable=False),  # [{name, quantity, price, sum}] (kopecks)
    Column("raw", JSON, nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    Index(None, "shop_inn"),
)
