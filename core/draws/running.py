"""The draw itself: the list frozen at the entries' close combined with the revealed seed and the beacon round."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.domain_events import Happened, event
from core.draws.common import BeaconSource, DrawRefused, Progress, campaign_of, quiet
from core.draws.freezing import Frozen, freeze, freeze_list
from core.draws.prizes import tell_winner
from core.errors import ConflictError
from core.ports import Store, UnitOfWork
from core.ports.draws import Draw, DrawStatus, NewWinner, WinnerStatus
from promo import draws as algorithm
from promo.beacon import BeaconRound, chain

if TYPE_CHECKING:
    from core.draws.sealing import SeedSeal

log = logging.getLogger(__name__)

__all__ = ["Frozen", "draw_now", "freeze", "reveal", "run_draw"]

RELAY_GRACE = timedelta(minutes=1)  # a round appears at relays a few seconds after its time; later, it is missing


def reveal(draw: Draw, seal: SeedSeal | None) -> bytes:
    """The draw's seed, opened with the key it was sealed with (a draw scheduled before sealing kept it plain)."""
    if draw.sealed_seed is None:
        return bytes.fromhex(draw.seed)
    if seal is None:
        raise DrawRefused("no_seed_key", f"draw {draw.id}: its seed is sealed and DRAW_SEED_KEY is not set")
    return seal.open(draw.sealed_seed, draw.campaign, draw.code, draw.commitment)


async def run_draw(store: Store, draw_id: int, now: datetime, beacons: BeaconSource | None,
                   winner_hours: int, progress: Progress = quiet, early: bool = False, *,
                   seal: SeedSeal | None = None) -> Draw:
    """Freeze the list if the keeper has not yet, fetch the named beacon round, then draw: the list is frozen in
    its own unit of work before the round is asked for, and the draw takes only what was frozen."""
    async with store.transaction() as tx:
        draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if now < draw.draw_at and not early:
        raise DrawRefused("not_yet", f"draw {draw_id} is due at {draw.draw_at:%Y-%m-%d %H:%M} UTC")
    if not draw.frozen:
        try:
            async with store.transaction() as tx:
                draw = await freeze_list(tx, draw_id, now, progress)
        except ConflictError:  # another process froze it meanwhile: the same list, by the same rule
            async with store.transaction() as tx:
                draw = await tx.draws.get(draw_id)
    beacon = None
    if draw.beacon_round is not None:
        assert draw.beacon_chain is not None
        if beacons is None:
            raise DrawRefused("no_beacon_source", "this draw names a beacon round: a drand relay must be reachable "
                                                  "(DRAND_URLS) or the round entered by hand")
        out_at = chain(draw.beacon_chain).time_of(draw.beacon_round)
        if now < out_at:
            raise DrawRefused("beacon_not_yet", f"round {draw.beacon_round} is not produced yet")
        beacon = await beacons.fetch(draw.beacon_chain, draw.beacon_round)
        if beacon is None and now < out_at + RELAY_GRACE:
            raise DrawRefused("beacon_not_yet", f"round {draw.beacon_round} is not available yet; try again shortly")
        if beacon is None:
            raise DrawRefused("beacon_unavailable", f"drand round {draw.beacon_round} came out at "
                                                    f"{out_at:%Y-%m-%d %H:%M:%S} UTC but no relay gave a round that "
                                                    f"verifies: the draw waits for it and never runs without it "
                                                    f"(its signature can be typed in: promo draw run {draw_id} "
                                                    f"--beacon-signature …)")
    async with store.transaction() as tx:
        return await draw_now(tx, draw_id, now, beacon, winner_hours, progress, seal=seal)


async def _survivor(tx: UnitOfWork, person_id: int) -> int:
    """Someone joined into another profile after the list was frozen wins as the profile they became."""
    for _ in range(16):
        person = await tx.people.get(person_id)
        if person.merged_into_id is None:
            return person_id
        person_id = person.merged_into_id
    return person_id


async def draw_now(tx: UnitOfWork, draw_id: int, now: datetime, beacon: BeaconRound | None, winner_hours: int,
                   progress: Progress = quiet, *, seal: SeedSeal | None = None) -> Draw:
    """The draw inside one unit of work: the frozen list, the seed opened, the (already verified) beacon round."""
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if not draw.frozen:
        raise DrawRefused("not_frozen", f"draw {draw_id}: its list is not frozen yet (at the entries' close)")
    campaign = await campaign_of(tx, draw)
    if draw.beacon_round is None and campaign.draw_rules.beacon:
        raise DrawRefused("no_beacon", f"draw {draw_id} names no beacon round, and campaign {campaign.code!r} does "
                                       f"not say beacon = \"none\": name one (promo draw beacon {draw_id})")
    if (draw.beacon_round is None) != (beacon is None) or (
            beacon is not None and (beacon.round, beacon.chain) != (draw.beacon_round, draw.beacon_chain)):
        raise DrawRefused("wrong_beacon", f"draw {draw_id} needs round {draw.beacon_round}, not another")
    seed = reveal(draw, seal)
    data = await tx.draws.entry_list(draw_id)
    entrants = await tx.draws.entrants(draw_id)
    entries = algorithm.parse_entry_list(data) if data is not None else []
    if data is None or algorithm.list_hash(data) != draw.entries_hash or len(entrants) != len(entries):
        raise DrawRefused("list_damaged", f"draw {draw_id}: the kept list is not the one whose hash was published")
    progress("choosing", 0, 1)
    key = algorithm.draw_key(seed, bytes.fromhex(beacon.randomness) if beacon else None)
    picks = algorithm.choose(entries, draw.entries_hash or "", key, draw.tiers)
    progress("choosing", 1, 1)
    person_of = {entry.participant: person for entry, person in zip(entries, entrants, strict=True)}
    deadline = now + timedelta(hours=winner_hours)
    winners = await tx.draws.add_winners(draw.id, [
        NewWinner(await _survivor(tx, person_of[p.participant]), p.participant, p.tier, p.position, p.reserve,
                  WinnerStatus.RESERVE if p.reserve else WinnerStatus.NOTIFIED, None if p.reserve else deadline)
        for p in picks], now)
    drawn = replace(draw, status=DrawStatus.DRAWN, seed=seed.hex(), drawn_at=now,
                    beacon_randomness=beacon.randomness if beacon else None,
                    beacon_signature=beacon.signature if beacon else None,
                    beacon_previous=(beacon.previous_signature or None) if beacon else None)
    await tx.draws.save(drawn)
    tx.events.add(event(Happened.DRAW_DRAWN, None, now, draw_id=draw.id,
                        winners=sum(1 for w in winners if not w.reserve)))
    for winner in winners:
        if winner.status is WinnerStatus.NOTIFIED:
            await tell_winner(tx, campaign, winner, now)
    return drawn
