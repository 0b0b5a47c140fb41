"""A campaign's draws scheduled with their commitments and beacon rounds (none already past), and a beacon round
named by hand."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from core.draws.common import DrawRefused, campaign_of
from core.ports import UnitOfWork
from core.ports.draws import Draw, DrawStatus
from promo import draws as algorithm
from promo.beacon import QUICKNET, chain
from promo.campaigns import Campaign, missed_draws

if TYPE_CHECKING:
    from core.draws.sealing import SeedSeal

log = logging.getLogger(__name__)

NO_SEED_KEY = ("DRAW_SEED_KEY is not set: a draw's seed is kept encrypted with it, outside the database, so nobody "
               "reading the database knows the outcome; set it (python -c 'import secrets; "
               "print(secrets.token_hex(32))') and keep it with the platform's other secrets")


async def schedule_draws(tx: UnitOfWork, campaign: Campaign, now: datetime, seal: SeedSeal | None = None
                         ) -> list[Draw]:
    """A draw record per planned draw not scheduled yet: its secret seed (sealed), the commitment to publish and,
    unless the campaign says ``beacon = "none"``, its drand round: the first one the campaign's margin after both
    the entries' close and now. Published together, at activation, so nobody picks a round later."""
    existing = {d.code for d in await tx.draws.of_campaign(campaign.code)}
    plans = [plan for plan in campaign.draws if plan.code not in existing]
    # a draw held late, or over days nobody could enter, would publish a commitment to a draw that cannot be fair
    missed = missed_draws(campaign, now, tuple(plans))
    if missed:
        raise DrawRefused("draw_past", f"campaign {campaign.code!r} cannot open with these draws: "
                                       f"{'; '.join(missed)}. Move them (or the campaign's start) and try again")
    if plans and seal is None:
        raise DrawRefused("no_seed_key", NO_SEED_KEY)
    made = []
    for plan in plans:
        assert seal is not None
        seed = algorithm.new_seed()
        commitment = algorithm.commitment(seed)
        tiers = tuple(algorithm.TierDraw(tier, count, plan.reserves) for tier, count in plan.prizes)
        draw = await tx.draws.add(campaign.code, plan.code, plan.entries_from, plan.entries_to, plan.draw_at,
                                  tiers, "", secrets.token_hex(32), commitment, algorithm.ALGORITHM, now,
                                  sealed_seed=seal.seal(seed, campaign.code, plan.code, commitment))
        if campaign.draw_rules.beacon:
            draw = await name_beacon(tx, draw.id, None, now)
        made.append(draw)
    return made


def entries_close(campaign: Campaign, draw: Draw) -> datetime:
    return campaign.days(draw.entries_from, draw.entries_to)[1]


async def name_beacon(tx: UnitOfWork, draw_id: int, round_number: int | None, now: datetime,
                      chain_hash: str = QUICKNET.hash) -> Draw:
    """Name, before the draw, the drand round whose randomness will be mixed into the seed.

    Without a round number, the first round at least the campaign's margin (10 minutes or more) after both the
    entries' close and now is taken. A round anyone could already know is refused, and so is a second one: a
    draw keeps the round published with it.
    """
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if draw.beacon_round is not None:
        raise DrawRefused("named", f"draw {draw_id} already names round {draw.beacon_round}")
    beacon = chain(chain_hash)
    campaign = await campaign_of(tx, draw)
    margin = campaign.draw_rules.beacon_margin
    earliest = max(entries_close(campaign, draw), now) + margin
    if round_number is None:
        round_number = beacon.first_round_after(earliest)
    if beacon.time_of(round_number) < earliest:
        raise DrawRefused("too_early", f"round {round_number} comes at {beacon.time_of(round_number):%Y-%m-%d %H:%M} "
                                       f"UTC: it must come after the entries close and after now, with "
                                       f"{int(margin.total_seconds() // 60)} minutes to spare")
    named = replace(draw, beacon_chain=beacon.hash, beacon_round=round_number)
    await tx.draws.save(named)
    return named


