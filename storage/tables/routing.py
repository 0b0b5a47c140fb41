"""The router's decisions, people's channel preferences, contact codes and broadcasts."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, false

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

route_decisions = Table(
    "route_decisions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigId, nullable=False, index=True),  # the outbox row (no key: outbox rows may be purged)
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("channel", String(16)),
    Column("external_id", String(128)),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("candidates", JSON, nullable=False),
    Index(None, "person_id", "decided_at"),
)

channel_preferences = Table(
    "channel_preferences", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, unique=True),
    Column("channel", String(16)),
    Column("time_zone", String(64)),
    Column("updated_at", UtcDateTime, nullable=False),
)

contact_codes = Table(
    "contact_codes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(254), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("link_hash", String(64), index=True),  # the e-mail link's token, hashed (SMS codes have no link)
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("used_at", UtcDateTime),
    Column("origin_channel", String(16)),
    Column("origin_account", String(128)),
)

broadcasts = Table(
    "broadcasts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("template", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("segment", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("people", Integer, nullable=False, default=0),
    Column("advertising", Boolean, nullable=False, default=False, server_default=false()),  # consent needed
)
