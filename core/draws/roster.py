"""A draw's winners as the staff sending prizes need them: who, under what name, reached on which channel, and
where each stands — one row per winner or reserve, named columns (``promo draw winners --csv``). Never published:
it names people."""

from __future__ import annotations

from core.delivery import MessageStatus
from core.draws.reach import NOTICE, notice_trail
from core.ports import UnitOfWork
from core.ports.draws import Winner, WinnerStatus
from core.ports.routes import RouteOutcome

COLUMNS = ("draw_id", "campaign", "draw", "winner_id", "prize", "prize_name", "place", "reserve", "person_id", "name",
           "pseudonym", "channels", "contact", "contact_reason", "status", "outcome", "deadline_utc", "full_name",
           "address", "phone")
FORFEITED = (WinnerStatus.DECLINED, WinnerStatus.EXPIRED, WinnerStatus.PASSED, WinnerStatus.SKIPPED)
DELIVERED = (MessageStatus.SENT, MessageStatus.AWAITING_ACK, MessageStatus.ACKNOWLEDGED, MessageStatus.UNREACHED)


def outcome(winner: Winner) -> str:
    if winner.status in FORFEITED:
        return "forfeited"
    if winner.status in (WinnerStatus.CONFIRMED, WinnerStatus.SENT):
        return "confirmed"
    return "reserve" if winner.status is WinnerStatus.RESERVE else "waiting"


async def _contact(tx: UnitOfWork, winner: Winner) -> tuple[str, list[str], str]:
    """(state, channels delivered on, why unreached): not_told | sending | notified | acknowledged | unreached."""
    notices = [e for e in await tx.messages.entries(winner.person_id, NOTICE)
               if str(e.params.get("winner_id", "")) == str(winner.id)]
    if not notices:
        unreached = winner.status in (WinnerStatus.UNREACHED, WinnerStatus.PASSED)
        return ("unreached", [], "no notice was queued") if unreached else ("not_told", [], "")
    decisions = await tx.routes.decisions(message_ids=[e.id for e in notices])
    channels: list[str] = []
    for decision in reversed(decisions):  # oldest first
        if decision.outcome == RouteOutcome.DELIVERED and decision.channel and decision.channel not in channels:
            channels.append(decision.channel)
    for entry in notices:
        if entry.status in DELIVERED and entry.channel and entry.channel not in channels:
            channels.append(entry.channel)
    if winner.status in (WinnerStatus.UNREACHED, WinnerStatus.PASSED):
        return "unreached", channels, "; ".join(await notice_trail(tx, winner))
    if any(e.acked_at or e.status is MessageStatus.ACKNOWLEDGED for e in notices) \
            or winner.status in (WinnerStatus.CONFIRMED, WinnerStatus.SENT, WinnerStatus.DECLINED):
        return "acknowledged", channels, ""
    if any(e.status in DELIVERED for e in notices):
        return "notified", channels, ""
    if all(e.status.is_final for e in notices):
        return "unreached", channels, "; ".join(await notice_trail(tx, winner))
    return "sending", channels, ""


async def winner_rows(tx: UnitOfWork, draw_id: int) -> list[dict[str, str]]:
    """The draw's winners and reserves in drawing order, each as ``COLUMNS``."""
    draw = await tx.draws.get(draw_id)
    campaign = await tx.campaigns.get(draw.campaign)
    prize_names = {p.code: p.name for p in campaign.prizes} if campaign else {}
    rows = []
    for w in await tx.draws.winners(draw_id):
        person = await tx.people.get(w.person_id)
        accounts = [a.display_name for a in await tx.people.accounts_of(w.person_id) if a.display_name]
        name = str(w.details.get("full_name") or person.name or (accounts[0] if accounts else ""))
        contact, channels, why = await _contact(tx, w)
        rows.append({
            "draw_id": str(draw.id), "campaign": draw.campaign, "draw": draw.code, "winner_id": str(w.id),
            "prize": w.tier, "prize_name": prize_names.get(w.tier, w.tier), "place": str(w.position),
            "reserve": "yes" if w.reserve else "no", "person_id": str(w.person_id), "name": name,
            "pseudonym": w.participant, "channels": ",".join(channels), "contact": contact, "contact_reason": why,
            "status": w.status.value, "outcome": outcome(w),
            "deadline_utc": f"{w.deadline:%Y-%m-%d %H:%M}" if w.deadline else "",
            **{k: str(w.details.get(k, "")) for k in ("full_name", "address", "phone")}})
    return rows
