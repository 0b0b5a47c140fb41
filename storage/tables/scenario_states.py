"""Where each person is in each scenario."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

scenario_states = Table(
    "scenario_states", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("scenario", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("data", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("person_id", "scenario"),
)
