"""A scheduled draw moved to a new date or cancelled, with the manager's reason, while its entry list is open.

Once the entries close the list is frozen and its hash published (``core.draws.freezing``): the draw then belongs
to the people in that list and to everyone who may check it, so it keeps its date and is held. Before that a
manager may move it (the shop delayed the prizes) or cancel it, saying why; the change is kept beside the draw
(``tx.draws.changes``) and the caller audits it (who, when, why) as every staff action is. The commitment and the
drand round stay as published: the round comes after the entries' close, which a move does not change, and a new
date is never set before the round is out, so the draw is held when it says.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from core.draws.common import DrawRefused, campaign_of
from core.draws.scheduling import entries_close
from core.errors import ConflictError
from core.ports import UnitOfWork
from core.ports.draws import Draw, DrawChange, DrawStatus
from promo.beacon import chain

MAX_REASON = 300


def _reason(reason: str) -> str:
    said = " ".join(reason.split())
    if not said:
        raise DrawRefused("no_reason", "say why: the reason is kept beside the draw and in the audit log")
    if len(said) > MAX_REASON:
        raise DrawRefused("reason_too_long", f"the reason is longer than {MAX_REASON} characters")
    return said


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


async def _open_draw(tx: UnitOfWork, draw_id: int, now: datetime, doing: str) -> Draw:
    """The draw, refused with the plain reason when it can no longer be changed."""
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.SCHEDULED:
        raise DrawRefused("not_scheduled", f"draw {draw_id} is {draw.status.value}: only a scheduled draw can be "
                                           f"{doing}")
    if draw.frozen:
        assert draw.frozen_at is not None
        raise DrawRefused("list_frozen", f"draw {draw_id} cannot be {doing}: its entry list was frozen at "
                                         f"{_utc(draw.frozen_at)} and its hash published; the draw is held as "
                                         f"announced")
    close = entries_close(await campaign_of(tx, draw), draw)
    if now >= close:  # the list is due to be frozen as of the close, whether or not the keeper has done it yet
        raise DrawRefused("list_frozen", f"draw {draw_id} cannot be {doing}: its entries closed at {_utc(close)}, "
                                         f"which freezes its list; the draw is held as announced")
    return draw


async def _change(tx: UnitOfWork, draw_id: int, draw_at: datetime | None, reason: str, staff_id: int | None,
                  now: datetime, doing: str) -> DrawChange:
    try:
        return await tx.draws.reschedule(draw_id, draw_at, reason, staff_id, now)
    except ConflictError:  # frozen (or drawn) by another process between our read and the change
        raise DrawRefused("list_frozen", f"draw {draw_id} cannot be {doing}: its list was frozen meanwhile") from None


def audit_detail(change: DrawChange) -> dict[str, str | None]:
    """What the audit entry of a move or cancel keeps, the same from the console and the command line."""
    return {"from": change.draw_at_before.isoformat(),
            "to": change.draw_at_after.isoformat() if change.draw_at_after else None, "reason": change.reason}


def as_campaign_time(draw_at: datetime, zone: tzinfo) -> datetime:
    """A time typed without a zone is the campaign's own (as its file and pages show times)."""
    return draw_at.replace(tzinfo=zone) if draw_at.tzinfo is None else draw_at


async def move(tx: UnitOfWork, draw_id: int, draw_at: datetime, reason: str, staff_id: int | None,
               now: datetime) -> DrawChange:
    """Hold the draw at ``draw_at`` instead (a naive time is in the campaign's zone): after its entries close and
    after its drand round is out, and not in the past."""
    said = _reason(reason)
    draw = await _open_draw(tx, draw_id, now, "moved")
    campaign = await campaign_of(tx, draw)
    draw_at = as_campaign_time(draw_at, campaign.zone)
    close = entries_close(campaign, draw)
    if draw_at <= now:
        raise DrawRefused("draw_past", f"{_utc(draw_at)} is past: a draw is moved to a later time")
    if draw_at < close:
        raise DrawRefused("before_close", f"{_utc(draw_at)} is before the draw's entries close at {_utc(close)}: "
                                          f"a draw comes after its list is frozen")
    if draw.beacon_round is not None and draw.beacon_chain is not None:
        out_at = chain(draw.beacon_chain).time_of(draw.beacon_round)
        if draw_at < out_at:
            raise DrawRefused("before_beacon", f"{_utc(draw_at)} is before drand round {draw.beacon_round}, "
                                               f"published with the draw, comes out at {_utc(out_at)}: the draw "
                                               f"needs it")
    if draw_at == draw.draw_at:
        raise DrawRefused("same_time", f"draw {draw_id} is already at {_utc(draw_at)}")
    return await _change(tx, draw_id, draw_at, said, staff_id, now, "moved")


async def cancel(tx: UnitOfWork, draw_id: int, reason: str, staff_id: int | None, now: datetime) -> DrawChange:
    """The draw will not be held: it is never frozen nor run (the keeper takes only scheduled draws)."""
    said = _reason(reason)
    await _open_draw(tx, draw_id, now, "cancelled")
    return await _change(tx, draw_id, None, said, staff_id, now, "cancelled")
