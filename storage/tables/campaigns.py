"""Campaigns (their rules as the written mapping, ``promo.campaign_file``) and who entered which."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, String, Table

from storage.tables.base import metadata
from storage.types import BigId, UtcDateTime

campaigns = Table(
    "campaigns", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # promo.campaigns.CampaignStatus
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("rules", JSON, nullable=False),  # promo.campaign_file.to_mapping
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

campaign_members = Table(
    "campaign_members", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("campaign", String(32), nullable=False),
    Column("source", String(16), nullable=False),  # link | chosen | only
    Column("joined_at", UtcDateTime, nullable=False),
    Index(None, "person_id", "joined_at"),
)
