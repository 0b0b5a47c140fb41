"""Prize draws run: commitments when a campaign opens, the draw itself, winners and their reserves.

What is published and when (``docs/draws.md``): a draw's commitment (SHA-256 of its secret seed)
from the moment its campaign is activated; optionally, before the draw, a future drand round
whose randomness will be mixed in; at the draw, the frozen entry list (pseudonyms only), its
hash, the revealed seed, the beacon round, the winners. People flagged for fraud are left out;
someone who won a prize tier before in the campaign cannot win that tier again; linked
accounts are one person (their receipts moved to one person when they were joined).

Winners are told through the outbox without an address (the router picks the channel) and
have until their deadline to confirm in the bot (``core/scenarios/prize.py``); a refusal or
silence hands the prize to the next reserve of the tier, automatically.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import io
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from core.errors import ConflictError, CoreError
from core.events import OutgoingMessage
from core.ports import Store, UnitOfWork
from core.ports.draws import AWARDED, Draw, DrawStatus, NewWinner, Winner, WinnerStatus
from promo import draws as algorithm
from promo.beacon import QUICKNET, BeaconRound, chain
from promo.campaigns import Campaign

log = logging.getLogger(__name__)

FRAUD_REASONS = frozenset({"sent_by_another_person", "tax_service_rejected", "shop_burst", "fiscal_drive_shared"})
BEACON_MARGIN = timedelta(minutes=10)  # the named round comes at least this long after entries close
# A winner who has not answered a notice within this (a third of their time at most) is told again on their
# next channel, until their deadline; unanswered by then, staff see the notice as unreached.
WINNER_ACK_WINDOW = timedelta(hours=6)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


class DrawRefused(CoreError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BeaconSource(Protocol):
    async def fetch(self, chain_hash: str, round_number: int) -> BeaconRound | None:
        """The round, verified; None while it is not produced yet."""
        ...


# scheduling ---------------------------------------------------------------------------------------


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
    campaign = await _campaign(tx, draw)
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


# the draw -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frozen:
    data: bytes
    entries_hash: str
    entries: list[algorithm.Entry]
    people: dict[str, int]  # pseudonym -> person id
    excluded: int


async def freeze(tx: UnitOfWork, draw: Draw, progress: Progress = _quiet) -> Frozen:
    """The entry list as it stands: one row per person, fraud left out, earlier tier wins barred."""
    campaign = await _campaign(tx, draw)
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
                   winner_hours: int, progress: Progress = _quiet, early: bool = False) -> Draw:
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
                   progress: Progress = _quiet) -> Draw:
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
    campaign = await _campaign(tx, draw)
    for winner in winners:
        if winner.status is WinnerStatus.NOTIFIED:
            await _tell_winner(tx, campaign, winner, now)
    return drawn


async def _campaign(tx: UnitOfWork, draw: Draw) -> Campaign:
    campaign = await tx.campaigns.get(draw.campaign)
    if campaign is None:
        raise DrawRefused("no_campaign", f"draw {draw.id} belongs to campaign {draw.campaign!r}, which is gone")
    return campaign


async def _tell_winner(tx: UnitOfWork, campaign: Campaign, winner: Winner, now: datetime) -> None:
    person = await tx.people.get(winner.person_id)
    prize = campaign.tier(winner.tier)
    assert winner.deadline is not None
    window = min(WINNER_ACK_WINDOW, (winner.deadline - now) / 3)
    tx.messages.enqueue(OutgoingMessage(person.id, "draw.won", {
        "campaign": campaign.name, "prize": prize.name, "winner_id": str(winner.id),
        "deadline": f"{winner.deadline.astimezone(campaign.zone):%d.%m.%Y %H:%M}"}, person.locale,
        bulk=True, ack_window_seconds=max(int(window.total_seconds()), 60), deadline=winner.deadline), now)


# winners ----------------------------------------------------------------------------------------------


async def open_win(tx: UnitOfWork, person_id: int, winner_id: int | None, now: datetime) -> Winner | None:
    """The person's win awaiting their confirmation (that one, or the first), still within its deadline."""
    for win in await tx.draws.wins_of(person_id):
        if (winner_id is None or win.id == winner_id) and win.status is WinnerStatus.NOTIFIED \
                and win.deadline is not None and now < win.deadline:
            return win
    return None


async def confirm(tx: UnitOfWork, winner: Winner, details: dict[str, str], now: datetime) -> Winner:
    confirmed = replace(winner, status=WinnerStatus.CONFIRMED, details=dict(details), updated_at=now)
    await tx.draws.save_winner(confirmed)
    return confirmed


async def drop_out(tx: UnitOfWork, winner: Winner, status: WinnerStatus, now: datetime,
                   winner_hours: int) -> Winner | None:
    """The winner declined or let the deadline pass: the next reserve of the tier is told. Who stepped in."""
    await tx.draws.save_winner(replace(winner, status=status, updated_at=now))
    for candidate in await tx.draws.winners(winner.draw_id):
        if candidate.tier == winner.tier and candidate.status is WinnerStatus.RESERVE:
            return await promote(tx, candidate, now, winner_hours)
    return None


async def promote(tx: UnitOfWork, reserve: Winner, now: datetime, winner_hours: int) -> Winner:
    draw = await tx.draws.get(reserve.draw_id)
    campaign = await _campaign(tx, draw)
    stepped_in = replace(reserve, status=WinnerStatus.NOTIFIED, deadline=now + timedelta(hours=winner_hours),
                         updated_at=now)
    await tx.draws.save_winner(stepped_in)
    await _tell_winner(tx, campaign, stepped_in, now)
    return stepped_in


async def mark_sent(tx: UnitOfWork, winner_id: int, now: datetime) -> Winner:
    winner = await tx.draws.winner(winner_id)
    if winner.status is not WinnerStatus.CONFIRMED:
        raise DrawRefused("not_confirmed", f"winner {winner_id} is {winner.status.value}: only a confirmed prize "
                                           f"is sent")
    sent = replace(winner, status=WinnerStatus.SENT, updated_at=now)
    await tx.draws.save_winner(sent)
    draw = await tx.draws.get(winner.draw_id)
    campaign = await _campaign(tx, draw)
    person = await tx.people.get(winner.person_id)
    tx.messages.enqueue(OutgoingMessage(person.id, "draw.prize_sent", {
        "prize": campaign.tier(winner.tier).name, "campaign": campaign.name}, person.locale), now)
    return sent


async def expire_overdue(tx: UnitOfWork, now: datetime, winner_hours: int, limit: int = 50) -> int:
    """Winners past their deadline lose the prize to the next reserve; how many were past it."""
    overdue = await tx.draws.overdue(now, limit)
    for winner in overdue:
        await drop_out(tx, winner, WinnerStatus.EXPIRED, now, winner_hours)
    return len(overdue)


class DrawKeeper:
    """Runs draws when they are due (once their beacon round is out) and hands prizes on at deadlines."""

    def __init__(self, store: Store, beacons: BeaconSource | None, clock: Callable[[], datetime],
                 winner_hours: int, notify: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.beacons = beacons
        self.clock = clock
        self.winner_hours = winner_hours
        self.notify = notify
        self._stopping = asyncio.Event()

    async def run(self, poll_seconds: float = 30.0) -> None:
        while not self._stopping.is_set():
            try:
                await self.pass_once()
            except Exception:  # the loop must outlive one bad pass
                log.exception("draw pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), poll_seconds)

    def stop(self) -> None:
        self._stopping.set()

    async def pass_once(self) -> None:
        now = self.clock()
        async with self.store.transaction() as tx:
            due = await tx.draws.due(now)
            expired = await expire_overdue(tx, now, self.winner_hours)
        ran = 0
        for draw in due:
            try:
                await run_draw(self.store, draw.id, now, self.beacons, self.winner_hours)
                ran += 1
                log.info("draw %s (%s/%s) drawn", draw.id, draw.campaign, draw.code)
            except DrawRefused as e:
                if e.reason != "beacon_not_yet":
                    log.warning("draw %s not run: %s", draw.id, e)
            except ConflictError:
                log.info("draw %s is being run elsewhere", draw.id)
        if expired or ran:
            self.notify()


# checking and publishing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    verification: algorithm.Verification
    commitment_matches: bool
    winners_match: bool


async def check(tx: UnitOfWork, draw_id: int) -> Check:
    """Recompute a drawn draw from its stored list exactly as an outsider would from the export."""
    draw = await tx.draws.get(draw_id)
    data = await tx.draws.entry_list(draw_id)
    if draw.status is not DrawStatus.DRAWN or data is None:
        raise DrawRefused("not_drawn", f"draw {draw_id} is not drawn yet")
    result = algorithm.verify(data, draw.seed, draw.tiers, draw.algorithm, draw.beacon_randomness)
    stored = [(w.tier, w.position, w.reserve, w.participant) for w in await tx.draws.winners(draw_id)]
    again = [(p.tier, p.position, p.reserve, p.participant) for p in result.picks]
    return Check(result, result.commitment == draw.commitment, stored == again)


async def entry_list(tx: UnitOfWork, draw_id: int) -> bytes:
    data = await tx.draws.entry_list(draw_id)
    if data is None:
        raise DrawRefused("not_drawn", f"draw {draw_id} is not drawn yet: its list is frozen at the draw")
    return data


async def winners_csv(tx: UnitOfWork, draw_id: int) -> str:
    """The winners for publishing: tier, place, reserve or not, pseudonym, status. No names, no phones."""
    draw = await tx.draws.get(draw_id)
    campaign = await _campaign(tx, draw)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tier", "prize", "position", "reserve", "participant", "status"])
    for w in await tx.draws.winners(draw_id):
        writer.writerow([w.tier, campaign.tier(w.tier).name, w.position, "yes" if w.reserve else "no", w.participant,
                         w.status.value])
    return out.getvalue()


def verify_command(draw: Draw, file_name: str = "entries.csv") -> str:
    beacon = f" --beacon {draw.beacon_randomness}" if draw.beacon_randomness else ""
    return (f"promo draw verify {file_name} --seed {draw.seed} --prizes {algorithm.format_tiers(draw.tiers)}"
            f"{beacon} --algorithm {draw.algorithm}")


async def protocol_html(tx: UnitOfWork, draw_id: int) -> str:
    """The printable protocol: commitment, revealed seed, beacon, list hash, winners, and how to check it all."""
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.DRAWN:
        raise DrawRefused("not_drawn", f"draw {draw_id} is not drawn yet")
    campaign = await _campaign(tx, draw)
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(campaign.tier(w.tier).name)}</td><td>{w.position}</td>"
        f"<td>{'резерв' if w.reserve else 'победитель'}</td><td><code>{e(w.participant)}</code></td></tr>"
        for w in await tx.draws.winners(draw_id))
    beacon = "не использовался" if draw.beacon_round is None else (
        f"drand, сеть <code>{e(draw.beacon_chain or '')}</code>, раунд {draw.beacon_round}, "
        f"randomness <code>{e(draw.beacon_randomness or '')}</code>, подпись <code>{e(draw.beacon_signature or '')}"
        f"</code>")
    zone = campaign.zone
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Протокол розыгрыша {e(campaign.name)} / {e(draw.code)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}}
code{{word-break:break-all}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.3em .6em}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>Протокол розыгрыша</h1>
<p>Акция: <b>{e(campaign.name)}</b> ({e(campaign.code)}), розыгрыш <b>{e(draw.code)}</b>.<br>
Покупки с {draw.entries_from:%d.%m.%Y} по {draw.entries_to:%d.%m.%Y} (часовой пояс {e(zone.key)}).<br>
Проведён {draw.drawn_at.astimezone(zone) if draw.drawn_at else '':%d.%m.%Y %H:%M}.</p>
<table>
<tr><th>Алгоритм</th><td><code>{e(draw.algorithm)}</code></td></tr>
<tr><th>Обязательство (SHA-256 зерна), опубликовано заранее</th><td><code>{e(draw.commitment)}</code></td></tr>
<tr><th>Зерно (раскрыто)</th><td><code>{e(draw.seed)}</code></td></tr>
<tr><th>Публичная случайность</th><td>{beacon}</td></tr>
<tr><th>SHA-256 списка участников</th><td><code>{e(draw.entries_hash or '')}</code></td></tr>
<tr><th>Участников / шансов</th><td>{draw.participants} / {draw.entries}</td></tr>
<tr><th>Исключено за нарушения</th><td>{draw.excluded}</td></tr>
</table>
<h2>Победители и резерв</h2>
<table><tr><th>Приз</th><th>Место</th><th></th><th>Участник (псевдоним)</th></tr>
{rows}
</table>
<h2>Как проверить</h2>
<ol><li>SHA-256 раскрытого зерна равен обязательству, опубликованному до розыгрыша.</li>
<li>SHA-256 файла списка участников (entries.csv) равен указанному выше.</li>
<li>Победители пересчитываются из списка, зерна и случайности по алгоритму из docs/draws.md:<br>
<code>{e(verify_command(draw))}</code></li></ol>
<p>Участник узнаёт свой псевдоним в боте (/draws). Имена и телефоны в протоколе не публикуются.</p>
</body></html>
"""
