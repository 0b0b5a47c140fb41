"""The outbox and the log of what people sent."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

message_log = Table(
    "message_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("channel", String(16)),
    Column("external_id", String(128)),
    Column("direction", String(3), nullable=False),  # "in" (before 0003 also "out"; the outbox says that now)
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("params", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "person_id", "created_at"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("channel", String(16)),
    Column("external_id", String(128)),
    Column("template", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("locale", String(8), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),  # core.delivery.MessageStatus
    Column("bulk", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(40)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("last_error", Text),
    Column("ack_window_s", Integer),  # asks for an answer within this many seconds of delivery
    Column("deadline", UtcDateTime),  # re-sent on the next channel until then; then unreached
    Column("acked_at", UtcDateTime),
    Column("round", Integer, nullable=False, default=0, server_default="0"),
    Column("tried", JSON),  # ["channel:account", …] it was delivered on
    Column("broadcast_id", BigId, index=True),
    Index(None, "status", "next_attempt_at"),
)
