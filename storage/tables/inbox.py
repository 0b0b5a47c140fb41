"""The durable intake (updates stored before their channel is told) and which processes are alive."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, UniqueConstraint

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

inbox = Table(
    "inbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bot", String(64), nullable=False),
    Column("update_id", String(64), nullable=False),
    Column("account_id", String(128)),
    Column("raw", JSON),  # cleared once processed: the message log keeps what is needed
    Column("received_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(40)),
    Column("leased_until", UtcDateTime),
    Column("last_error", Text),
    Column("dead_at", UtcDateTime),  # given up on (too many failures): kept, with its error, until staff retry it
    UniqueConstraint("bot", "update_id"),
    Index(None, "processed_at", "leased_until"),
    Index(None, "received_at"),
    Index(None, "dead_at"),
)

inbox_cursors = Table(
    "inbox_cursors", metadata,
    Column("bot", String(64), primary_key=True),
    Column("value", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

workers = Table(
    "workers", metadata,
    Column("id", String(40), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)
