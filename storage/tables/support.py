"""Support tickets and what was said on them."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, SmallInteger, String, Table, Text

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

tickets = Table(
    "tickets", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("campaign", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # core.ports.tickets.TicketStatus
    Column("subject", String(200), nullable=False),
    Column("assigned_to", ForeignKey("staff_users.id")),
    Column("rating", SmallInteger),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_person_at", UtcDateTime),
    Column("last_staff_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("version", Integer, nullable=False, default=1),
    Index(None, "status", "last_person_at"),  # the queue: waiting longest first
    Index(None, "assigned_to", "status"),
)

ticket_events = Table(
    "ticket_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # core.ports.tickets.TicketEventKind
    Column("staff_id", ForeignKey("staff_users.id")),
    Column("body", Text, nullable=False),
    Column("photo_sha256", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "ticket_id", "id"),
)
