"""Leaving a person out of a campaign's draws: only by a moderator's decision, for that campaign, with a reason.

A fraud flag (someone else's receipt sent again, a fiscal drive shared…) is a signal for moderators, never an
exclusion by itself: the moderator decides, the person is told why and ``/draws`` says so, and every list of the
campaign frozen after the decision leaves them out — their own receipts' entries too. The list keeps who was left out
as at its close (``Draw.exclusions``): staff see the people and reasons on the draw's page, the public protocol
their pseudonyms and reason codes.
"""

from __future__ import annotations

from datetime import datetime

from core.draws.common import FRAUD_REASONS, DrawRefused
from core.events import OutgoingMessage
from core.ports import UnitOfWork
from core.ports.draws import Exclusion
from core.queueing import enqueue

# the codes published in the protocol, and what the person reads
REASONS: dict[str, dict[str, str]] = {
    "sent_by_another_person": {"ru": "отправлен чужой чек", "en": "someone else's receipt was sent"},
    "fiscal_drive_shared": {"ru": "чеки одной кассы от разных людей", "en": "receipts of one till from many people"},
    "shop_burst": {"ru": "подозрительная серия чеков одного магазина", "en": "a suspicious burst of receipts"},
    "tax_service_rejected": {"ru": "чек не подтверждён налоговой", "en": "the tax service did not confirm a receipt"},
    "rules_broken": {"ru": "нарушены правила акции", "en": "the promotion's rules were broken"},
}
assert set(REASONS) >= FRAUD_REASONS


def reason_text(reason: str, locale: str) -> str:
    words = REASONS.get(reason, REASONS["rules_broken"])
    return words.get(locale, words["ru"])


async def exclude(tx: UnitOfWork, campaign_code: str, person_id: int, reason: str, note: str,
                  staff_id: int | None, now: datetime) -> Exclusion:
    """Record the decision and tell the person; ``DrawRefused`` for an unknown reason or campaign, or a second
    exclusion of the same person."""
    if reason not in REASONS:
        raise DrawRefused("bad_reason", f"reason {reason!r}: one of {', '.join(sorted(REASONS))}")
    campaign = await tx.campaigns.get(campaign_code)
    if campaign is None:
        raise DrawRefused("no_campaign", f"no campaign {campaign_code!r}")
    person = await tx.people.get(person_id)
    if await excluded_from(tx, campaign_code, person_id) is not None:
        raise DrawRefused("excluded", f"person {person_id} is excluded from {campaign_code} already")
    exclusion = await tx.draws.exclude(campaign_code, person_id, reason, " ".join(note.split())[:300], staff_id, now)
    enqueue(tx, OutgoingMessage(person.id, "draw.excluded", {
        "campaign": campaign.name, "reason": reason_text(reason, person.locale)}, person.locale), now)
    return exclusion


async def excluded_from(tx: UnitOfWork, campaign_code: str, person_id: int) -> Exclusion | None:
    return next((e for e in await tx.draws.exclusions(campaign_code) if e.person_id == person_id), None)
