"""The keys a campaign file may hold, and each unknown one found with its line and the nearest valid key.

TOML gives a misspelt key no meaning of its own: ``recipts_per_day = 2`` would be read as nothing and the limit
would silently keep its default. So every table of the file is checked against the keys its reader takes,
and each stranger is named at once, where it is, with what was probably meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any

Path = tuple[str | int, ...]

TABLES: dict[str, frozenset[str]] = {
    "": frozenset({"code", "title", "time_zone", "starts_on", "ends_on", "status", "receipts", "products",
                   "anti_fraud", "prizes", "draws", "weekly", "final", "draw_rules"}),
    "receipts": frozenset({"min_sum", "per_day", "per_hour", "cashback_percent", "cashback_cap_per_receipt",
                           "cashback_cap_per_person", "roubles_per_entry", "max_entries_per_receipt",
                           "max_entries_per_person"}),
    "products": frozenset({"include", "exclude", "min_items", "entries_per_item"}),
    "anti_fraud": frozenset({"receipts_per_shop_per_hour", "people_per_fiscal_drive"}),
    "prizes": frozenset({"code", "name", "quantity", "value", "needs"}),
    "draws": frozenset({"code", "entries_from", "entries_to", "draw_at", "prizes", "reserves"}),
    "weekly": frozenset({"prizes", "draw_weekday", "draw_time", "reserves"}),
    "final": frozenset({"code", "prizes", "draw_on", "draw_time", "reserves"}),
    "draw_rules": frozenset({"beacon", "beacon_margin_minutes", "late_receipts"}),
}
LISTS = frozenset({"prizes", "draws"})  # arrays of tables: [[prizes]], [[draws]]
# a draw's ``prizes`` is a table of tier = count: its keys are the campaign's own tier codes, checked elsewhere


def unknown_keys(data: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """Each key no reader takes, as its path in the file and a hint (the nearest valid key), in file order."""
    yield from _check(data, "", ())
    for table in TABLES:
        value = data.get(table) if table else None
        if table in LISTS and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from _check(item, table, (table, index))
        elif table and isinstance(value, Mapping):
            yield from _check(value, table, (table,))


def _check(data: Mapping[str, Any], table: str, at: Path) -> Iterator[tuple[Path, str]]:
    known = TABLES[table]
    for key in data:
        if key not in known:
            yield (*at, key), _hint(str(key), table)


def _hint(key: str, table: str) -> str:
    """``did you mean 'x'?``: a key of another table, spelt right, is sent there; else the closest in this one."""
    elsewhere = [other for other, keys in TABLES.items() if other != table and other and key in keys]
    if elsewhere:
        return f"it belongs in [{elsewhere[0]}]"
    close = difflib.get_close_matches(key, sorted(TABLES[table]), n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(sorted(TABLES[table]))}"


def where(path: Path) -> str:
    """Where a key sits, as the file writes its table's header: ``in [receipts]``, ``in [[prizes]] #2``."""
    if len(path) == 1:
        return "at the top level"
    if isinstance(path[1], int):
        return f"in [[{path[0]}]] #{path[1] + 1}"
    return f"in [{'.'.join(str(p) for p in path[:-1])}]"


_KEY = r'(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_KEY}(?:\s*\.\s*{_KEY})*)\s*\]\]?")
_ASSIGN = re.compile(rf"^\s*({_KEY}(?:\s*\.\s*{_KEY})*)\s*=")
_MULTILINE = re.compile(r'"""|\'\'\'')


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in re.findall(_KEY, dotted))


def line_of(text: str, path: Path) -> int | None:
    """The 1-based line where the key at ``path`` is written (``None`` if this small scanner cannot tell)."""
    header: Path = ()
    counts: dict[tuple[str, ...], int] = {}
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        was_in_string = in_string
        if len(_MULTILINE.findall(line)) % 2:  # a multi-line string opens or closes: its lines hold no keys
            in_string = not in_string
        if was_in_string:
            continue
        if (head := _HEADER.match(line)) and not _ASSIGN.match(line):
            names = _parts(head.group(2))
            if names == path:  # an unknown table of its own: ``[draw_rules.extra]``, ``[[extras]]``
                return number
            if head.group(1) == "[[":
                counts[names] = counts.get(names, -1) + 1
                header = (*names, counts[names])
            else:
                header = names
            continue
        if (assign := _ASSIGN.match(line)) is None:
            continue
        full = (*header, *_parts(assign.group(1)))
        if full[:len(path)] == path:  # the key itself, or a dotted key under it: ``extra.x = 1``
            return number
        rest = path[len(full):]  # a key inside an inline table: ``weekly = { draw_weekdy = "monday" }``
        if path[:len(full)] == full and rest and re.search(rf"[{{,]\s*{re.escape(str(rest[-1]))}\s*=",
                                                           line[assign.end():]):
            return number
    return None


def problems(text: str, data: Mapping[str, Any]) -> list[str]:
    """One line per unknown key: ``line 7: unknown key 'recipts_per_day' in [receipts]; did you mean …?``."""
    found = []
    for path, hint in unknown_keys(data):
        line = line_of(text, path)
        found.append((line or 0, f"{f'line {line}: ' if line else ''}unknown key {path[-1]!r} {where(path)}; "
                                 f"{hint}"))
    return [message for _, message in sorted(found, key=lambda pair: pair[0])]
