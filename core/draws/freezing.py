"""A draw's entry list frozen when its entries close, its hash published then: before its beacon round exists.

The list is what was counted before the close (``counted_at``), so a receipt sent or decided afterwards, and a
moderator who decides knowing anything, cannot change it; the campaign says whether such a late receipt goes to
the next draw (the one whose days it was counted in) or to none.
People are left out only by a moderator's decision in the campaign made before the close (``core.draws.exclusion``),
kept with the list. The draw keeper freezes each list within one pass of its close; a draw run before that freezes
it first, by the same rule, so the list does not depend on when it was frozen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.domain_events import Happened, event
from core.draws.common import DrawRefused, Progress, campaign_of, quiet
from core.draws.scheduling import entries_close
from core.ports import UnitOfWork
from core.ports.draws import AWARDED, Draw, DrawStatus, Left
from promo import draws as algorithm
from promo.beacon import QUICKNET, chain
from promo.campaigns import Campaign, LateReceipts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frozen:
    data: bytes
    entries_hash: str
    entries: list[algorithm.Entry]  # in the list's order
    people: dict[str, int]  # pseudonym -> person id
    left: tuple[Left, ...]  # who had entries and was excluded by a moderator before the close, by pseudonym

    @property
    def excluded(self) -> int:
        return len(self.left)

    @property
    def entrants(self) -> list[int]:
        return [self.people[entry.participant] for entry in self.entries]


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    joined: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined


async def late_spans(tx: UnitOfWork, campaign: Campaign, draw: Draw) -> list[tuple[datetime, datetime]]:
    """The purchase days of the campaign's draws that closed before this one's days began: a receipt of them
    counted only during this draw's days missed its own list and, as the campaign says, comes to this one."""
    if campaign.draw_rules.late_receipts is not LateReceipts.NEXT_DRAW:
        return []
    start = campaign.days(draw.entries_from, draw.entries_to)[0]
    spans = [campaign.days(d.entries_from, d.entries_to) for d in await tx.draws.of_campaign(campaign.code)
             if d.id != draw.id]
    return _merged([(first, close) for first, close in spans if close <= start])


async def freeze(tx: UnitOfWork, draw: Draw, progress: Progress = quiet) -> Frozen:
    """The entry list as of the entries' close: one row per person, fraud left out, earlier tier wins barred."""
    campaign = await campaign_of(tx, draw)
    start, close = campaign.days(draw.entries_from, draw.entries_to)
    totals = await tx.receipts.entries_by_person(draw.campaign, start, close, counted_before=close,
                                                 late=await late_spans(tx, campaign, draw))
    # a flag alone leaves nobody out: a moderator's decision in this campaign does, as it stood at the close
    reasons: dict[int, str] = {}
    for exclusion in await tx.draws.exclusions(draw.campaign, before=close):
        reasons.setdefault(exclusion.person_id, exclusion.reason)
    barred: dict[int, set[str]] = {}
    for win in await tx.draws.campaign_winners(draw.campaign):
        if win.status in AWARDED and win.draw_id != draw.id:
            barred.setdefault(win.person_id, set()).add(win.tier)
    key = bytes.fromhex(draw.participant_key)
    entries, people = [], {}
    eligible = [(person, count) for person, count in totals.items() if person not in reasons]
    left = tuple(sorted((Left(algorithm.pseudonym(key, person), person, reasons[person]) for person in totals
                         if person in reasons), key=lambda e: e.participant))
    for done, (person, count) in enumerate(eligible, start=1):
        name = algorithm.pseudonym(key, person)
        people[name] = person
        entries.append(algorithm.Entry(name, count, frozenset(barred.get(person, ()))))
        if done % 20_000 == 0:
            progress("pseudonyms", done, len(eligible))
    progress("pseudonyms", len(eligible), len(eligible))
    data = algorithm.entry_list(entries)
    entries.sort(key=lambda e: e.participant)
    return Frozen(data, algorithm.list_hash(data), entries, people, left)


def _round_still_unknown(draw: Draw, now: datetime) -> bool:
    return draw.beacon_round is not None and draw.beacon_chain is not None \
        and chain(draw.beacon_chain).time_of(draw.beacon_round) > now


async def freeze_list(tx: UnitOfWork, draw_id: int, now: datetime, progress: Progress = quiet) -> Draw:
    """Freeze the list once its entries have closed, keep it, publish its hash (``draw.frozen``); the draw as
    frozen. A frozen draw is returned as it is.

    The beacon round must still be unknown now: a round already out (the keeper was down past it) or never named
    though the campaign wants one is replaced by the first round after now plus the campaign's margin, and said.
    """
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}")
    if draw.frozen:
        return draw
    campaign = await campaign_of(tx, draw)
    close = entries_close(campaign, draw)
    if now < close:
        closes = close.astimezone(UTC)
        raise DrawRefused("entries_open", f"draw {draw_id}: its entries close at {closes:%Y-%m-%d %H:%M} UTC; its "
                                          f"list is frozen then, and only then can it be drawn")
    frozen = await freeze(tx, draw, progress)
    await tx.draws.keep_list(draw.id, frozen.data, frozen.entrants)
    named = draw
    if (campaign.draw_rules.beacon or draw.beacon_round is not None) and not _round_still_unknown(draw, now):
        beacon = chain(draw.beacon_chain) if draw.beacon_chain else QUICKNET
        fresh = beacon.first_round_after(now + campaign.draw_rules.beacon_margin)
        log.warning("draw %s: its list is frozen at %s, when drand round %s was %s; round %s is named instead",
                    draw.id, now.isoformat(), draw.beacon_round, "out already" if draw.beacon_round else "not named",
                    fresh)
        named = replace(draw, beacon_chain=beacon.hash, beacon_round=fresh)
    saved = replace(named, entries_hash=frozen.entries_hash, participants=len(frozen.entries),
                    entries=sum(e.entries for e in frozen.entries), excluded=frozen.excluded,
                    exclusions=frozen.left, frozen_at=now)
    await tx.draws.save(saved)
    tx.events.add(event(Happened.DRAW_FROZEN, None, now, draw_id=draw.id, entries=saved.entries,
                        list_sha256=frozen.entries_hash))
    return saved
