"""Prize draws (commitment, secrets, frozen list, result) and their winners."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

draws = Table(
    "draws", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign", String(32), nullable=False),
    Column("code", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # core.ports.draws.DrawStatus
    Column("entries_from", Date, nullable=False),
    Column("entries_to", Date, nullable=False),
    Column("draw_at", UtcDateTime, nullable=False),
    Column("tiers", JSON, nullable=False),  # [[tier, winners, reserves], …] in drawing order
    Column("commitment", String(64), nullable=False),
    Column("seed", String(64), nullable=False),
    Column("participant_key", String(64), nullable=False),
    Column("algorithm", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("beacon_chain", String(64)),
    Column("beacon_round", BigInteger),
    Column("beacon_randomness", String(64)),
    Column("beacon_signature", String(192)),
    Column("beacon_previous", String(192)),
    Column("entries_hash", String(64)),
    Column("participants", Integer, nullable=False, default=0),
    Column("entries", BigInteger, nullable=False, default=0),
    Column("excluded", Integer, nullable=False, default=0),
    Column("drawn_at", UtcDateTime),
    Column("entry_list", LargeBinary),  # the frozen CSV, exactly as exported and hashed
    Column("entrants", LargeBinary),  # the person of each row of the frozen list: 8-byte ids, in the list's order
    Column("sealed_seed", String(128)),  # the seed under DRAW_SEED_KEY (never the key) until revealed in ``seed``
    Column("frozen_at", UtcDateTime),  # the list frozen and its hash published: at the entries' close
    Column("exclusions", JSON),  # [[pseudonym, person id, reason], …]: left out of the list as at its close
    UniqueConstraint("campaign", "code"),
    Index(None, "status", "draw_at"),
)

draw_winners = Table(
    "draw_winners", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("draw_id", ForeignKey("draws.id"), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("participant", String(24), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("tier_order", Integer, nullable=False),  # the tier's place in the drawing order
    Column("position", Integer, nullable=False),
    Column("reserve", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # core.ports.draws.WinnerStatus
    Column("deadline", UtcDateTime),
    Column("details", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "draw_id", "tier_order", "position"),
    Index(None, "status", "deadline"),
)

draw_exclusions = Table(
    "draw_exclusions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign", String(32), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("reason", String(32), nullable=False),  # a code, published in the protocol
    Column("note", String(300), nullable=False),  # the moderator's words, for staff only
    Column("staff_id", BigInteger),  # who decided; None: the command line
    Column("decided_at", UtcDateTime, nullable=False),
    Index(None, "campaign", "person_id"),
)

draw_changes = Table(
    "draw_changes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("draw_id", ForeignKey("draws.id"), nullable=False, index=True),
    Column("draw_at_before", UtcDateTime, nullable=False),
    Column("draw_at_after", UtcDateTime),  # None: cancelled
    Column("reason", String(300), nullable=False),  # the manager's words, shown beside the draw
    Column("staff_id", BigInteger),  # who decided; None: the command line
    Column("changed_at", UtcDateTime, nullable=False),
)
