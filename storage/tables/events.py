"""Domain events, consumers' positions in them, and the machines' timers."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, text

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

# ``tx``: on PostgreSQL the writing transaction's id, so consumers read events in an order no transaction still
# running can precede (see ``storage.sql.events``); 0 on SQLite, whose single writer commits in id order
domain_events = Table(
    "domain_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tx", BigInteger, nullable=False, server_default=text("0")),
    Column("kind", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("person_id", BigInteger, index=True),  # no key: events stay when profiles are joined or erased
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("data", JSON, nullable=False),
    Index(None, "tx", "id"),
)

event_cursors = Table(
    "event_cursors", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("tx", BigInteger, nullable=False),
    Column("event_id", BigInteger, nullable=False),
)

timers = Table(
    "timers", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("scenario", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("data", JSON, nullable=False),
    Column("fired_at", UtcDateTime),
    Column("lease_owner", String(40)),
    Column("leased_until", UtcDateTime),
    Index(None, "fired_at", "due_at"),
)
