"""Undoing a wrong merge: the rows the merge moved go back to the person they came from, and both are told.

The merge audit keeps the ids of every row that moved, per table; each person-owned repository
gives exactly those rows back. Rows created after the merge stay with the survivor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.errors import CoreError
from core.events import OutgoingMessage
from core.identity import Merge
from core.ports import UnitOfWork


class CannotUndo(CoreError):
    """The merge is unknown, undone already, or its survivor was merged on since (undo that first)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Undone:
    merge: Merge
    rows: int


async def find_merge(tx: UnitOfWork, person_id: int, merge_id: int) -> Merge:
    merge = next((m for m in await tx.people.merges(person_id) if m.id == merge_id), None)
    if merge is None:
        raise CannotUndo("unknown")
    return merge


async def undo_merge(tx: UnitOfWork, person_id: int, merge_id: int, staff_id: int | None, now: datetime) -> Undone:
    merge = await find_merge(tx, person_id, merge_id)
    if await tx.staff.undone_merges([merge.id]):
        raise CannotUndo("already_undone")
    survivor = await tx.people.get(merge.survivor_id)
    if survivor.merged_into_id is not None:
        raise CannotUndo("survivor_merged_since")
    await tx.staff.record_undo(merge.id, staff_id, now)  # a second undo racing this one conflicts here
    rows = 0
    for repository in tx.person_owned():
        rows += await repository.restore(merge.moved, merge.absorbed_id)
    absorbed = await tx.people.get(merge.absorbed_id)
    absorbed.merged_into_id = None
    await tx.people.save(absorbed)
    await tx.states.drop(merge.absorbed_id)  # whatever it was in the middle of belonged to the joint profile
    for person in (survivor, absorbed):
        tx.messages.enqueue(OutgoingMessage(person.id, "support.unmerged", {}, person.locale), now)
    return Undone(merge, rows)
