"""The one building block of the memory store: a table of immutable rows that a unit of work can roll back.

Rows are frozen records (or records never changed in place): an update puts a new row under
the same key. A table keeps a shallow copy of its rows from before the first change in a unit
of work, so rolling back is putting that copy back, and committing is forgetting it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, overload

from core.errors import ConflictError

R = TypeVar("R")
K = TypeVar("K", bound=Hashable)

# A unique key of a row, or None where the row takes no part in it (as SQL NULLs in a unique column).
UniqueKey = Callable[[Any], Hashable | None]


class Table(Generic[K, R]):
    """Rows by primary key, in insertion order, with unique keys checked like SQL's."""

    def __init__(self, name: str, *, unique: dict[str, UniqueKey] | None = None) -> None:
        self.name = name
        self._rows: dict[K, R] = {}
        self._unique = dict(unique or {})
        self._indexes: dict[str, dict[Hashable, K]] = {index: {} for index in self._unique}
        self._saved: dict[K, R] | None = None
        self._last_id = 0

    # reading ------------------------------------------------------------------------------------

    def get(self, key: K) -> R | None:
        return self._rows.get(key)

    def one(self, key: K) -> R:
        row = self._rows.get(key)
        if row is None:
            raise LookupError(f"no row {key!r} in {self.name}")
        return row

    def find(self, index: str, value: Hashable) -> R | None:
        """The row holding ``value`` in the unique key ``index``."""
        key = self._indexes[index].get(value)
        return None if key is None else self._rows[key]

    def rows(self) -> Iterator[R]:
        return iter(list(self._rows.values()))

    def items(self) -> Iterator[tuple[K, R]]:
        return iter(list(self._rows.items()))

    def where(self, predicate: Callable[[R], bool]) -> list[R]:
        return [row for row in self._rows.values() if predicate(row)]

    def __len__(self) -> int:
        return len(self._rows)

    # writing ------------------------------------------------------------------------------------

    def next_id(self) -> int:
        """A new id, as SQL's autoincrement hands out (not given back on rollback)."""
        self._last_id += 1
        return self._last_id

    def put(self, key: K, row: R) -> R:
        """Insert or replace; ``ConflictError`` when another row holds one of its unique keys."""
        taken = [(index, value) for index, value in self._unique_values(row)
                 if self._indexes[index].get(value, key) != key]
        if taken:
            raise ConflictError(f"{self.name}: {taken[0][0]} {taken[0][1]!r} is taken")
        self._save()
        old = self._rows.get(key)
        if old is not None:
            self._unindex(old)
        self._rows[key] = row
        for index, value in self._unique_values(row):
            self._indexes[index][value] = key
        return row

    def delete(self, key: K) -> R | None:
        if key not in self._rows:
            return None
        self._save()
        row = self._rows.pop(key)
        self._unindex(row)
        return row

    # the unit of work -----------------------------------------------------------------------------

    def commit(self) -> None:
        self._saved = None

    def rollback(self) -> None:
        if self._saved is None:
            return
        self._rows, self._saved = self._saved, None
        self._indexes = {index: {} for index in self._unique}
        for key, row in self._rows.items():
            for index, value in self._unique_values(row):
                self._indexes[index][value] = key

    def _save(self) -> None:
        if self._saved is None:
            self._saved = dict(self._rows)

    def _unique_values(self, row: R) -> Iterator[tuple[str, Hashable]]:
        for index, key_of in self._unique.items():
            value = key_of(row)
            if value is not None:
                yield index, value

    def _unindex(self, row: R) -> None:
        for index, value in self._unique_values(row):
            self._indexes[index].pop(value, None)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """Times are stored as SQL stores them: aware, in UTC; a naive time is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


def json_copy(value: Any) -> Any:
    """A copy as a JSON column gives it back (tuples become lists, keys strings); unserialisable data fails."""
    return json.loads(json.dumps(value))


def reassign_rows(tables: list[Table[int, Any]], absorbed_id: int, survivor_id: int) -> dict[str, list[int]]:
    """Give every row of the absorbed person in these tables to the survivor; the ids moved, by table."""
    moved: dict[str, list[int]] = {}
    for table in tables:
        rows = sorted(table.where(lambda row: row.person_id == absorbed_id), key=lambda row: row.id)
        for row in rows:
            table.put(row.id, replace(row, person_id=survivor_id))
        if rows:
            moved[table.name] = [row.id for row in rows]
    return moved


def restore_rows(tables: list[Table[int, Any]], moved: dict[str, list[int]], person_id: int) -> int:
    """Give exactly these rows (other tables' entries in ``moved`` are ignored) to ``person_id``."""
    count = 0
    for table in tables:
        for row_id in moved.get(table.name, []):
            row = table.get(row_id)
            if row is not None:
                table.put(row_id, replace(row, person_id=person_id))
                count += 1
    return count
