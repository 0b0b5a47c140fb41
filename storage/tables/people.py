"""People, their channel accounts, consents and the audit of joined profiles."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, String, Table, UniqueConstraint, true

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

persons = Table(
    "persons", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64)),
    Column("phone", String(20), unique=True),
    Column("phone_verified", Boolean, nullable=False, default=False),
    Column("email", String(254)),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("locale", String(8), nullable=False),
    Column("source", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("registered_at", UtcDateTime),
    Column("merged_into_id", ForeignKey("persons.id")),
    Column("withdrawn_at", UtcDateTime),  # consent withdrawn (erased): in no draw frozen later, in no broadcast
)

channel_accounts = Table(
    "channel_accounts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("display_name", String(128), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime),
    Column("unreachable_since", UtcDateTime),
    Column("unreachable_reason", String(64)),
    Column("verified_at", UtcDateTime),
    UniqueConstraint("channel", "external_id"),
)

consents = Table(
    "consents", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("text_version", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("accepted_at", UtcDateTime, nullable=False),
    # advertising consent (kind "advertising") is given or withdrawn per channel; the latest row per channel holds
    Column("given", Boolean, nullable=False, default=True, server_default=true()),
    Column("source", String(32)),  # where it was said: "/news", "/stop", "button"
    Index(None, "kind", "person_id"),
)

person_merges = Table(
    "person_merges", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("survivor_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("absorbed_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("reason", String(128), nullable=False),
    Column("moved", JSON, nullable=False),  # rows moved per table (counts)
    Column("moved_rows", JSON),  # ids moved per table, so the merge can be undone (null before 0003)
    # both people's fields around the merge, so the undo gives each their own (null before 0010 and once erased)
    Column("details", JSON),
    Column("merged_at", UtcDateTime, nullable=False),
)

Index(None, persons.c.merged_into_id)
