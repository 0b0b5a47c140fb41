"""Winners and their prizes: the notice, confirmation, declining or silence (the next reserve steps in)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from core.domain_events import Happened, event
from core.draws.common import WINNER_ACK_WINDOW, DrawRefused, campaign_of
from core.events import OutgoingMessage
from core.moments import shown_time
from core.ports import UnitOfWork
from core.ports.draws import Winner, WinnerStatus
from core.queueing import enqueue
from promo.campaigns import Campaign

log = logging.getLogger(__name__)

async def tell_winner(tx: UnitOfWork, campaign: Campaign, winner: Winner, now: datetime) -> None:
    person = await tx.people.get(winner.person_id)
    prize = campaign.tier(winner.tier)
    assert winner.deadline is not None
    window = min(WINNER_ACK_WINDOW, (winner.deadline - now) / 3)
    tx.events.add(event(Happened.PRIZE_WON, person.id, now, draw_id=winner.draw_id, winner_id=winner.id,
                        prize=winner.tier, deadline=winner.deadline.isoformat()))
    enqueue(tx, OutgoingMessage(person.id, "draw.won", {
        "campaign": campaign.name, "prize": prize.name, "winner_id": str(winner.id),
        "deadline": shown_time(winner.deadline, campaign.zone, person.locale)}, person.locale,
        bulk=True, ack_window_seconds=max(int(window.total_seconds()), 60), deadline=winner.deadline), now)


async def open_win(tx: UnitOfWork, person_id: int, winner_id: int | None, now: datetime) -> Winner | None:
    """The person's win awaiting their confirmation (that one, or the first), still within its deadline; or one
    whose notice reached them nowhere (no deadline runs): the caller starts their time, they are reached now."""
    for win in await tx.draws.wins_of(person_id):
        if winner_id is not None and win.id != winner_id:
            continue
        if win.status is WinnerStatus.UNREACHED or (win.status is WinnerStatus.NOTIFIED and win.deadline is not None
                                                    and now < win.deadline):
            return win
    return None


async def confirm(tx: UnitOfWork, winner: Winner, details: dict[str, str], now: datetime) -> Winner:
    confirmed = replace(winner, status=WinnerStatus.CONFIRMED, details=dict(details), updated_at=now)
    await tx.draws.save_winner(confirmed)
    tx.events.add(event(Happened.PRIZE_CONFIRMED, winner.person_id, now, draw_id=winner.draw_id, winner_id=winner.id))
    return confirmed


async def drop_out(tx: UnitOfWork, winner: Winner, status: WinnerStatus, now: datetime,
                   winner_hours: int) -> Winner | None:
    """The winner declined or let the deadline pass: the next reserve of the tier is told. Who stepped in."""
    await tx.draws.save_winner(replace(winner, status=status, updated_at=now))
    tx.events.add(event(Happened.PRIZE_FORFEITED, winner.person_id, now, draw_id=winner.draw_id, winner_id=winner.id,
                        status=status.value))
    for candidate in await tx.draws.winners(winner.draw_id):
        if candidate.tier == winner.tier and candidate.status is WinnerStatus.RESERVE:
            return await promote(tx, candidate, now, winner_hours)
    return None


async def promote(tx: UnitOfWork, reserve: Winner, now: datetime, winner_hours: int) -> Winner:
    draw = await tx.draws.get(reserve.draw_id)
    campaign = await campaign_of(tx, draw)
    stepped_in = replace(reserve, status=WinnerStatus.NOTIFIED, deadline=now + timedelta(hours=winner_hours),
                         updated_at=now)
    await tx.draws.save_winner(stepped_in)
    await tell_winner(tx, campaign, stepped_in, now)
    return stepped_in


async def mark_sent(tx: UnitOfWork, winner_id: int, now: datetime) -> Winner:
    winner = await tx.draws.winner(winner_id)
    if winner.status is not WinnerStatus.CONFIRMED:
        raise DrawRefused("not_confirmed", f"winner {winner_id} is {winner.status.value}: only a confirmed prize "
                                           f"is sent")
    sent = replace(winner, status=WinnerStatus.SENT, updated_at=now)
    await tx.draws.save_winner(sent)
    draw = await tx.draws.get(winner.draw_id)
    campaign = await campaign_of(tx, draw)
    person = await tx.people.get(winner.person_id)
    enqueue(tx, OutgoingMessage(person.id, "draw.prize_sent", {
        "prize": campaign.tier(winner.tier).name, "campaign": campaign.name}, person.locale), now)
    return sent


async def expire_overdue(tx: UnitOfWork, now: datetime, winner_hours: int, limit: int = 50) -> int:
    """Winners past their deadline lose the prize to the next reserve; how many were past it."""
    overdue = await tx.draws.overdue(now, limit)
    for winner in overdue:
        await drop_out(tx, winner, WinnerStatus.EXPIRED, now, winner_hours)
    return len(overdue)


