"""Undoing a wrong merge: the rows the merge moved go back to the person they came from, and both are told.

The merge audit keeps the ids of every row that moved, per table; each person-owned repository
gives exactly those rows back. Rows created after the merge stay with the survivor.

The audit also keeps both people's details (name, phone, e-mail, their verified flags…) from just
before the merge and the survivor's from just after: the absorbed person gets theirs back, and each
of the survivor's that the merge filled goes back to what it was, unless the survivor changed it
since. Merges recorded before the details were kept (or whose person was erased) give back rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from core.errors import CoreError
from core.events import OutgoingMessage
from core.identity import Merge, Person, PersonDetails
from core.ports import UnitOfWork
from core.queueing import enqueue


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


async def _give_back_details(tx: UnitOfWork, merge: Merge) -> tuple[Person, Person]:
    """The survivor without what it took (saved first: that frees the unique phone), and the absorbed person with
    their own details again, not yet saved; a phone someone holds now (the survivor changed or confirmed it after
    the merge, or another person registered it meanwhile) cannot come back."""
    survivor, absorbed = await tx.people.get(merge.survivor_id), await tx.people.get(merge.absorbed_id)
    if merge.details is None:
        return survivor, absorbed
    survivor = merge.details.taken_back(PersonDetails.of(survivor)).given_to(survivor)
    await tx.people.save(survivor)
    own = merge.details.absorbed
    if own.phone is not None:
        holder = await tx.people.find_by_phone(own.phone)
        if holder is not None and holder.id != absorbed.id:
            own = replace(own, phone=None, phone_verified=False)
    return survivor, own.given_to(absorbed)


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
    survivor, absorbed = await _give_back_details(tx, merge)
    absorbed.merged_into_id = None
    await tx.people.save(absorbed)
    await tx.states.drop(merge.absorbed_id)  # whatever it was in the middle of belonged to the joint profile
    for person in (survivor, absorbed):
        enqueue(tx, OutgoingMessage(person.id, "support.unmerged", {}, person.locale), now)
    return Undone(merge, rows)
