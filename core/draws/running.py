"""The draw itself: the entry list frozen, the winners chosen from it with the seed and the beacon, told."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.domain_events import Happened, event
from core.draws.common import FRAUD_REASONS, BeaconSource, DrawRefused, Progress, campaign_of, quiet
from core.draws.prizes import tell_winner
from core.ports import Store, UnitOfWork
from core.ports.draws import AWARDED, Draw, DrawStatus, NewWinner, WinnerStatus
from promo import draws as algorithm
from promo.beacon import BeaconRound, chain

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Frozen:
    data: bytes
    entries_hash: str
    entries: list[algorithm.Entry]
    people: dict[str, int]  # pseudonym -> person id
    excluded: int


async def freeze(tx: UnitOfWork, draw: Draw, progress: Progress = quiet) -> Frozen:
    """The entry list as it stands: one row per person, fraud left out, earlier tier wins barred."""
    campaign = await campaign_of(tx, draw)
    start, end = campaign.days(draw.entries_from, draw.entries_to)
    totals = await tx.receipts.entries_by_person(draw.campaign, start, end)
    flagged = await tx.receipts.flagged_people(FRAUD_REASONS)
    barred: dict[int, set[str]] = {}
    for win in await tx.draws.campaign_winners(draw.campaign):
        if win.status in AWARDED and win.draw_id != draw.id:
            barred.setdefault(win.person_id, set()).add(win.tier)
    key = bytes.fromhex(draw.participant_key)
    entries, people = [], {}
    eligible = [(person, count) for person, count in totals.items() if person not in flagged]
    for done, (person, count) in enumerate(eligible, start=1):
        name = algorithm.pseudonym(key, person)
        people[name] = person
        entries.append(algorithm.Entry(name, count, frozenset(barred.get(person, ()))))
        if done % 20_000 == 0:
            progress("pseudonyms", done, len(eligible))
    progress("pseudonyms", len(eligible), len(eligible))
    data = algorithm.entry_list(entries)
    entries.sort(key=lambda e: e.participant)
    return Frozen(data, algorithm.list_hash(data), entries, people, len(totals) - len(eligible))


async def run_draw(store: Store, draw_id: int, now: datetime, beacons: BeaconSource | None,
                   winner_hours: int, progress: Progress = quiet, early: bool = False) -> Draw:
    """Freeze, choose, reveal, tell the winners: one unit of work, after the named beacon round is fetched."""
    async with store.transaction() as tx:
        draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if now < draw.draw_at and not early:
        raise DrawRefused("not_yet", f"draw {draw_id} is due at {draw.draw_at:%Y-%m-%d %H:%M} UTC")
    beacon = None
    if draw.beacon_round is not None:
        assert draw.beacon_chain is not None
        if beacons is None:
            raise DrawRefused("no_beacon_source", "this draw names a beacon round: a drand relay must be reachable "
                                                  "(DRAND_URLS) or the round entered by hand")
        if now < chain(draw.beacon_chain).time_of(draw.beacon_round):
            raise DrawRefused("beacon_not_yet", f"round {draw.beacon_round} is not produced yet")
        beacon = await beacons.fetch(draw.beacon_chain, draw.beacon_round)
        if beacon is None:
            raise DrawRefused("beacon_not_yet", f"round {draw.beacon_round} is not available yet; try again shortly")
    async with store.transaction() as tx:
        return await draw_now(tx, draw_id, now, beacon, winner_hours, progress)


async def draw_now(tx: UnitOfWork, draw_id: int, now: datetime, beacon: BeaconRound | None, winner_hours: int,
                   progress: Progress = quiet) -> Draw:
    """The draw inside one unit of work, with the (already verified) beacon round when one was named."""
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if (draw.beacon_round is None) != (beacon is None) or (
            beacon is not None and (beacon.round, beacon.chain) != (draw.beacon_round, draw.beacon_chain)):
        raise DrawRefused("wrong_beacon", f"draw {draw_id} needs round {draw.beacon_round}, not another")
    frozen = await freeze(tx, draw, progress)
    progress("choosing", 0, 1)
    key = algorithm.draw_key(bytes.fromhex(draw.seed), bytes.fromhex(beacon.randomness) if beacon else None)
    picks = algorithm.choose(frozen.entries, frozen.entries_hash, key, draw.tiers)
    progress("choosing", 1, 1)
    deadline = now + timedelta(hours=winner_hours)
    await tx.draws.keep_list(draw.id, frozen.data)
    winners = await tx.draws.add_winners(draw.id, [
        NewWinner(frozen.people[p.participant], p.participant, p.tier, p.position, p.reserve,
                  WinnerStatus.RESERVE if p.reserve else WinnerStatus.NOTIFIED, None if p.reserve else deadline)
        for p in picks], now)
    drawn = replace(draw, status=DrawStatus.DRAWN, entries_hash=frozen.entries_hash,
                    participants=len(frozen.entries), entries=sum(e.entries for e in frozen.entries),
                    excluded=frozen.excluded, drawn_at=now,
                    beacon_randomness=beacon.randomness if beacon else None,
                    beacon_signature=beacon.signature if beacon else None,
                    beacon_previous=(beacon.previous_signature or None) if beacon else None)
    await tx.draws.save(drawn)
    tx.events.add(event(Happened.DRAW_FROZEN, None, now, draw_id=draw.id, entries=drawn.entries,
                        list_sha256=frozen.entries_hash))
    tx.events.add(event(Happened.DRAW_DRAWN, None, now, draw_id=draw.id,
                        winners=sum(1 for w in winners if not w.reserve)))
    campaign = await campaign_of(tx, draw)
    for winner in winners:
        if winner.status is WinnerStatus.NOTIFIED:
            await tell_winner(tx, campaign, winner, now)
    return drawn


