"""A campaign's draws scheduled with their commitments, and the beacon round named before the draw."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime

from core.draws.common import BEACON_MARGIN, DrawRefused, campaign_of
from core.ports import UnitOfWork
from core.ports.draws import Draw, DrawStatus
from promo import draws as algorithm
from promo.beacon import QUICKNET, chain
from promo.campaigns import Campaign

log = logging.getLogger(__name__)

async def schedule_draws(tx: UnitOfWork, campaign: Campaign, now: datetime) -> list[Draw]:
    """A draw record per planned draw not scheduled yet: its secret seed, and the commitment to publish."""
    existing = {d.code for d in await tx.draws.of_campaign(campaign.code)}
    made = []
    for plan in campaign.draws:
        if plan.code in existing:
            continue
        seed = algorithm.new_seed()
        tiers = tuple(algorithm.TierDraw(tier, count, plan.reserves) for tier, count in plan.prizes)
        made.append(await tx.draws.add(campaign.code, plan.code, plan.entries_from, plan.entries_to, plan.draw_at,
                                       tiers, seed.hex(), secrets.token_hex(32), algorithm.commitment(seed),
                                       algorithm.ALGORITHM, now))
    return made


def entries_close(campaign: Campaign, draw: Draw) -> datetime:
    return campaign.days(draw.entries_from, draw.entries_to)[1]


async def name_beacon(tx: UnitOfWork, draw_id: int, round_number: int | None, now: datetime,
                      chain_hash: str = QUICKNET.hash) -> Draw:
    """Name, before the draw, the drand round whose randomness will be mixed into the seed.

    Without a round number, the first round at least ``BEACON_MARGIN`` after both the entries'
    close and now is taken. A round anyone could already know is refused.
    """
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if draw.beacon_round is not None:
        raise DrawRefused("named", f"draw {draw_id} already names round {draw.beacon_round}")
    beacon = chain(chain_hash)
    campaign = await campaign_of(tx, draw)
    earliest = max(entries_close(campaign, draw), now) + BEACON_MARGIN
    if round_number is None:
        round_number = beacon.first_round_after(earliest)
    if beacon.time_of(round_number) < earliest:
        raise DrawRefused("too_early", f"round {round_number} comes at {beacon.time_of(round_number):%Y-%m-%d %H:%M} "
                                       f"UTC: it must come after the entries close and after now, with "
                                       f"{int(BEACON_MARGIN.total_seconds() // 60)} minutes to spare")
    named = replace(draw, beacon_chain=beacon.hash, beacon_round=round_number)
    await tx.draws.save(named)
    return named


