"""Rows that belong to a person move with them when two profiles are joined, and back when undone."""

from __future__ import annotations

from typing import Protocol

Moved = dict[str, list[int]]  # table -> ids of the rows that moved


class PersonOwned(Protocol):
    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        """Give the absorbed person's rows to the survivor; which rows moved."""
        ...

    async def restore(self, moved: Moved, person_id: int) -> int:
        """Give these rows back to ``person_id`` (undoing a merge); how many moved."""
        ...
