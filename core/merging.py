"""Joining two profiles of one person: every row the absorbed profile owns moves, and the move is recorded.

The audit keeps the ids of the rows that moved and both people's details just before and after ``absorb``
(name, phone, e-mail…), so staff can undo a wrong merge exactly (``core.support.identity.undo_merge``).
"""

from __future__ import annotations

from datetime import datetime

from core.domain_events import Happened, event
from core.identity import Merge, MergeDetails, PersonDetails
from core.ports import UnitOfWork
from core.ports.person_owned import Moved


async def merge_persons(tx: UnitOfWork, survivor_id: int, absorbed_id: int, reason: str, now: datetime) -> Merge:
    await tx.states.drop(absorbed_id)  # the survivor's scenario states are the ones to keep
    moved: Moved = {}
    for repository in tx.person_owned():
        moved.update(await repository.reassign(absorbed_id, survivor_id))
    survivor, absorbed = await tx.people.get(survivor_id), await tx.people.get(absorbed_id)
    await tx.people.absorb(survivor_id, absorbed_id)
    details = MergeDetails(PersonDetails.of(survivor), PersonDetails.of(absorbed),
                           PersonDetails.of(await tx.people.get(survivor_id)))
    tx.events.add(event(Happened.PERSON_MERGED, survivor_id, now, absorbed_id=absorbed_id, reason=reason))
    return await tx.people.record_merge(survivor_id, absorbed_id, reason, moved, now, details)
