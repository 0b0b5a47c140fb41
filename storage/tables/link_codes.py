"""Account-link codes and every attempt to use one."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

link_codes = Table(
    "link_codes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("code", String(16), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("account_external_id", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
)

link_attempts = Table(
    "link_attempts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("code_id", ForeignKey("link_codes.id")),
    Column("outcome", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "channel", "external_id", "at"),
    Index(None, "code_id", "at"),
    Index(None, "at"),
)
