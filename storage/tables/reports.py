"""What the console's dashboard reads: indexes over other aggregates' tables, and its daily roll-ups."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, String, Table, UniqueConstraint

from storage.tables.base import metadata
from storage.tables.messages import outbox
from storage.tables.people import persons
from storage.tables.receipts import receipts
from storage.types import BigId, UtcDateTime

# covering: receipts per day and status, and the funnel, are read from the indexes alone
Index(None, receipts.c.created_at)
Index(None, receipts.c.created_at, receipts.c.status)
Index(None, receipts.c.person_id, receipts.c.status)
Index(None, persons.c.merged_into_id, persons.c.registered_at)
# covering: refusals by template and deliveries by channel and status are read from the index alone
Index(None, outbox.c.created_at, outbox.c.template)
Index(None, outbox.c.created_at, outbox.c.channel, outbox.c.status)

# One closed, settled day's outbox figures in one zone (storage.sql.reports): a day is rolled up once every
# message of it has reached a final status (which never changes again), so its counts can no longer move.
# A "closed" row with count 0 marks the day as rolled up, figures or not.
report_days = Table(
    "report_days", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("zone", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("figure", String(16), nullable=False),  # refusal | delivery | closed
    Column("channel", String(16), nullable=False),  # deliveries: the channel ("" when none was reachable)
    Column("key", String(64), nullable=False),  # refusals: the reason; deliveries: the status
    Column("fallback", Boolean, nullable=False),  # deliveries: sent only after another channel failed
    Column("count", BigInteger, nullable=False),
    Column("rolled_at", UtcDateTime, nullable=False),
    UniqueConstraint("zone", "day", "figure", "channel", "key", "fallback"),
)
