"""Whether a winner's notice reached them: their time runs from a delivered notice; an unreached winner waits.

The prize notice's scenario (``core.scenarios.prize.PRIZE_NOTICE``) follows the outbox's ``message.sent`` and
``message.failed`` for each ``draw.won`` notice and calls ``delivered`` or ``unreached`` here. A winner nobody could
reach is ``unreached``: their time does not run and the prize does not pass on by itself (they never heard of it);
staff see which channels were tried and why each failed (the stored routing decisions), then try again once
another contact is known or hand the prize to the next reserve, saying why.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from core.draws.common import DrawRefused, campaign_of
from core.draws.prizes import drop_out, tell_winner
from core.ports import UnitOfWork
from core.ports.draws import Winner, WinnerStatus

NOTICE = "draw.won"


async def winner_of_notice(tx: UnitOfWork, person_id: int, message_id: int) -> Winner | None:
    """The win a ``draw.won`` message told of (its parameters name it), still the person's."""
    for entry in await tx.messages.entries(person_id, NOTICE):
        if entry.id == message_id and str(entry.params.get("winner_id", "")).isdigit():
            try:
                winner = await tx.draws.winner(int(entry.params["winner_id"]))
            except LookupError:
                return None
            return winner if winner.person_id == person_id else None
    return None


async def delivered(tx: UnitOfWork, winner: Winner, now: datetime, winner_hours: int) -> Winner:
    """The first delivery of the notice: the winner's time starts now (an unreached winner reached at last, too)."""
    if winner.status not in (WinnerStatus.NOTIFIED, WinnerStatus.UNREACHED):
        return winner
    told = replace(winner, status=WinnerStatus.NOTIFIED, deadline=now + timedelta(hours=winner_hours), updated_at=now)
    await tx.draws.save_winner(told)
    return told


async def unreached(tx: UnitOfWork, winner: Winner, now: datetime) -> Winner:
    """The notice reached none of the winner's channels: no deadline runs until staff decide."""
    if winner.status is not WinnerStatus.NOTIFIED:
        return winner
    left = replace(winner, status=WinnerStatus.UNREACHED, deadline=None, updated_at=now)
    await tx.draws.save_winner(left)
    return left


async def _unreached_winner(tx: UnitOfWork, winner_id: int) -> Winner:
    winner = await tx.draws.winner(winner_id)
    if winner.status is not WinnerStatus.UNREACHED:
        raise DrawRefused("not_unreached", f"winner {winner_id} is {winner.status.value}: only an unreached "
                                           f"winner is told again or passed over by staff")
    return winner


async def tell_again(tx: UnitOfWork, winner_id: int, now: datetime, winner_hours: int) -> Winner:
    """Staff try again (another contact was added or linked): a fresh notice, routed over every channel now known."""
    winner = await _unreached_winner(tx, winner_id)
    campaign = await campaign_of(tx, await tx.draws.get(winner.draw_id))
    again = replace(winner, status=WinnerStatus.NOTIFIED, deadline=now + timedelta(hours=winner_hours),
                    updated_at=now)
    await tx.draws.save_winner(again)
    await tell_winner(tx, campaign, again, now)
    return again


async def pass_on(tx: UnitOfWork, winner_id: int, reason: str, now: datetime, winner_hours: int) -> Winner | None:
    """Staff hand an unreached winner's prize to the next reserve, with the reason (audited by the caller); who
    stepped in."""
    if not reason.strip():
        raise DrawRefused("no_reason", "say why the prize passes on: it is kept in the audit log")
    return await drop_out(tx, await _unreached_winner(tx, winner_id), WinnerStatus.PASSED, now, winner_hours)


async def notice_trail(tx: UnitOfWork, winner: Winner) -> list[str]:
    """Each channel the winner's notices were tried on and what came of it, oldest first, from the routing
    decisions: "telegram: Forbidden: bot was blocked by the user"."""
    notices = [e.id for e in await tx.messages.entries(winner.person_id, NOTICE)
               if str(e.params.get("winner_id", "")) == str(winner.id)]
    if not notices:
        return []
    lines: list[str] = []
    for decision in reversed(await tx.routes.decisions(message_ids=notices)):
        for candidate in decision.candidates:
            said = candidate.outcome or (f"skipped: {candidate.dropped}" if candidate.dropped else None)
            if said and f"{candidate.channel}: {said}" not in lines:
                lines.append(f"{candidate.channel}: {said}")
        if not decision.candidates:
            lines.append(f"{decision.outcome}: {decision.detail}".strip(": "))
    return lines
