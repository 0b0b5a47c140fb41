"""Product rules: which lines of a receipt are the brand's products, and how many of them there are.

The tax service gives a receipt's lines as the till printed them: runs of spaces, a ``*``
prefix, truncated words, mixed case, ``ё`` or ``е``. A pattern is matched against the
name reduced the same way; ``*`` in a pattern stands for anything, and a pattern without
``*`` matches anywhere in the name ("чебаркуль" matches "*ЧЕБАРКУЛЬ Молоко 3,2% 1л").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 100


@dataclass(frozen=True)
class ReceiptItem:
    """One line of a receipt, as the receipt check returned it (money in kopecks)."""

    name: str
    quantity: float
    price_kopecks: int
    sum_kopecks: int

    @property
    def units(self) -> int:
        """Pieces bought: the quantity when whole, else one (a weighed item is one purchase)."""
        whole = round(self.quantity)
        return max(1, whole) if abs(self.quantity - whole) < 1e-9 else 1


def normalise(text: str) -> str:
    """Lower case, ``ё`` as ``е``, every run of other characters than letters and digits as one space."""
    kept = "".join(ch if ch.isalnum() or ch == "*" else " " for ch in text.lower().replace("ё", "е"))
    return " ".join(kept.split())


def _compile(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in normalise(pattern).split("*")]
    return re.compile(".*".join(parts))


class ProductRuleError(ValueError):
    """A product rule that cannot work (no include pattern, an empty or overlong one)."""


@dataclass(frozen=True)
class ProductRules:
    """Which items count: any ``include`` pattern and no ``exclude`` one; at least ``min_items`` units of them."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    min_items: int = 1
    entries_per_item: int = 0  # draw entries per matching unit; 0: entries by roubles of the matching sum

    def __post_init__(self) -> None:
        if not self.include:
            raise ProductRuleError("products.include: name at least one pattern")
        for pattern in (*self.include, *self.exclude):
            if not normalise(pattern).replace("*", "").strip() or len(pattern) > MAX_PATTERN_LENGTH:
                raise ProductRuleError(f"products: pattern {pattern!r} is empty or longer than {MAX_PATTERN_LENGTH}")
        if len(self.include) + len(self.exclude) > MAX_PATTERNS:
            raise ProductRuleError(f"products: at most {MAX_PATTERNS} patterns")
        if self.min_items < 1 or self.entries_per_item < 0:
            raise ProductRuleError("products: min_items is at least 1, entries_per_item at least 0")

    @cached_property
    def _included(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile(p) for p in self.include)

    @cached_property
    def _excluded(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile(p) for p in self.exclude)

    def matches(self, name: str) -> bool:
        text = normalise(name)
        return (any(p.search(text) for p in self._included)
                and not any(p.search(text) for p in self._excluded))

    def matching(self, items: Iterable[ReceiptItem]) -> list[ReceiptItem]:
        return [item for item in items if self.matches(item.name)]


@dataclass(frozen=True)
class Basket:
    """What of a receipt counts under product rules."""

    items: tuple[ReceiptItem, ...]

    @property
    def sum_kopecks(self) -> int:
        return sum(item.sum_kopecks for item in self.items)

    @property
    def units(self) -> int:
        return sum(item.units for item in self.items)
