"""What every part of running draws shares: the refusal, the beacon's source, the fixed margins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from core.errors import CoreError
from core.ports import UnitOfWork
from core.ports.draws import Draw
from promo.beacon import BeaconRound
from promo.campaigns import Campaign

log = logging.getLogger(__name__)


FRAUD_REASONS = frozenset({"sent_by_another_person", "tax_service_rejected", "shop_burst", "fiscal_drive_shared"})
BEACON_MARGIN = timedelta(minutes=10)  # the named round comes at least this long after entries close
# A winner who has not answered a notice within this (a third of their time at most) is told again on their
# next channel, until their deadline; unanswered by then, staff see the notice as unreached.
WINNER_ACK_WINDOW = timedelta(hours=6)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def quiet(_stage: str, _done: int, _total: int) -> None:
    return None


class DrawRefused(CoreError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BeaconSource(Protocol):
    async def fetch(self, chain_hash: str, round_number: int) -> BeaconRound | None:
        """The round, verified; None while it is not produced yet."""
        ...


async def campaign_of(tx: UnitOfWork, draw: Draw) -> Campaign:
    campaign = await tx.campaigns.get(draw.campaign)
    if campaign is None:
        raise DrawRefused("no_campaign", f"draw {draw.id} belongs to campaign {draw.campaign!r}, which is gone")
    return campaign


