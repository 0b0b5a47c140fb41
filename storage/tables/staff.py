"""Console staff: users, server-side sessions, login attempts, the audit log, and merges undone."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, String, Table

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

staff_users = Table(
    "staff_users", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("role", String(16), nullable=False),  # core.ports.staff.StaffRole
    Column("password_hash", String(256), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("locale", String(8), nullable=False, default="ru"),
    Column("created_at", UtcDateTime, nullable=False),
)

staff_sessions = Table(
    "staff_sessions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("staff_id", ForeignKey("staff_users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

staff_logins = Table(
    "staff_logins", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "username", "at"),
    Index(None, "address", "at"),
)

staff_audit = Table(
    "staff_audit", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("staff_id", ForeignKey("staff_users.id")),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "target", "id"),
)

merge_undos = Table(
    "merge_undos", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("merge_id", ForeignKey("person_merges.id"), nullable=False, unique=True),
    Column("staff_id", ForeignKey("staff_users.id")),
    Column("undone_at", UtcDateTime, nullable=False),
)
