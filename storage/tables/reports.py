"""Indexes the console's dashboard reads by (time windows over other aggregates' tables)."""

from __future__ import annotations

from sqlalchemy import Index

from storage.tables.messages import outbox
from storage.tables.receipts import receipts

Index(None, receipts.c.created_at)
# covering: refusals by template and deliveries by channel and status are read from the index alone
Index(None, outbox.c.created_at, outbox.c.template)
Index(None, outbox.c.created_at, outbox.c.channel, outbox.c.status)
