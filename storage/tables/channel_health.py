"""Channel health log: every change of a channel's state, measured or set by staff (append-only)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, String, Table

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

channel_health_log = Table(
    "channel_health_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("changed_by", String(120), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("manual", Boolean, nullable=False),
    Index(None, "manual", "channel", "id"),
    Index(None, "channel", "id"),
)
