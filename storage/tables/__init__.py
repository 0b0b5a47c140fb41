"""Every table, declared with SQLAlchemy Core on one ``metadata``; one module per aggregate.

A feature's tables get a module of their own here, imported below so that migrations
and the test fixtures see them.
"""

import storage.tables.campaigns  # campaigns, draws and receipt checks: imported so that migrations see them
import storage.tables.draws
import storage.tables.receipt_checks
from storage.tables import (
    channel_health,
    events,
    inbox,
    ledger,
    link_codes,
    messages,
    people,
    photos,
    receipts,
    reports,
    routing,
    scenario_states,
    staff,
    support,
)
from storage.tables.base import metadata

