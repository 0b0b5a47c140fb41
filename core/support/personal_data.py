"""A person's data on request (152-FZ): everything we keep about them as one document, or erased.

Erasure blanks what identifies the person in every repository that keeps personal data
(``tx.personal_data()``) and keeps the pseudonymous id and every amount: the ledger still
balances, and a draw protocol naming person ids can still be checked.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from core.domain_events import Happened, event
from core.errors import CoreError
from core.payouts import money_of
from core.ports import UnitOfWork
from core.ports.personal_data import ErasureSubject
from promo import ledger

EXPORT_LIMIT = 500  # timeline items in one export; the rest are older than anyone asks about


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def export_person(tx: UnitOfWork, person_id: int, now: datetime) -> dict[str, Any]:
    person = await tx.people.get(person_id)
    tickets = await tx.tickets.of_person(person_id)
    document = {
        "exported_at": now,
        "person": asdict(person),
        "accounts": [asdict(a) for a in await tx.people.accounts_of(person_id)],
        "consents": [asdict(c) for c in await tx.people.consents_of(person_id)],
        "receipts": [asdict(r) for r in await tx.receipts.of_person(person_id)],
        "balances": {str(k): v for k, v in (await tx.ledger.balances(person_id)).items()},
        "tickets": [{**asdict(t), "events": [asdict(e) for e in await tx.tickets.events(t.id)]} for t in tickets],
        "timeline": [asdict(i) for i in await tx.timeline.of_person(person_id, limit=EXPORT_LIMIT)],
    }
    return _plain(document)


class ErasureRefused(CoreError):
    """Erasing now would lose what is owed: a payout was requested to the phone erasure would blank."""


async def erase_person(tx: UnitOfWork, person_id: int, now: datetime) -> int:
    """Erase now; how many rows changed. Amounts, ids and the ledger stay. ``ErasureRefused`` while a payout is
    requested: it is paid or cancelled first (the person chooses in /forget; staff with payout-paid/-cancel)."""
    requested = (await money_of(tx, person_id)).requested_payouts
    if requested:
        raise ErasureRefused(f"payout {requested[0].id} of {ledger.format_roubles(requested[0].amount_kopecks)} ₽ "
                             f"is requested: pay it (payout-paid) or cancel it (payout-cancel) first")
    accounts = await tx.people.accounts_of(person_id)
    person = await tx.people.get(person_id)
    subject = ErasureSubject(person_id, tuple((a.channel, a.external_id) for a in accounts),
                             tuple(value for value in (person.phone, person.email) if value))
    changed = 0
    for repository in tx.personal_data():
        changed += await repository.erase_personal(subject, now)
    kept = await tx.ledger.balances(person_id)
    tx.events.add(event(Happened.PERSON_ERASED, person_id, now, kept_for_law=["ledger"] if any(kept.values()) else []))
    return changed
