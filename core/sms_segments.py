"""How many SMS a text costs: GSM-7 (160 septets alone, 153 per part) or UCS-2 (70, 67), and fitting a budget.

GSM-7 holds the basic GSM 03.38 table, each character one septet, and the extension table,
each two (escape + character). Any other character (any Cyrillic letter, «», —, №, emoji)
makes the whole text UCS-2, counted in UTF-16 code units (an emoji outside the BMP is two).
An escape pair is never split across parts: a part that would end between them ends before.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
ELLIPSIS_GSM = "..."
ELLIPSIS_UCS2 = "…"


@dataclass(frozen=True)
class Segments:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _gsm7_parts(text: str) -> int:
    """Parts of 153 septets, an escape pair never split (encoders move it to the next part)."""
    parts, used = 1, 0
    for ch in text:
        cost = 2 if ch in GSM7_EXTENSION else 1
        if used + cost > 153:
            parts, used = parts + 1, 0
        used += cost
    return parts


def count(text: str) -> Segments:
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return Segments("gsm7", units, 1 if units <= 160 else _gsm7_parts(text))
    units = len(text.encode("utf-16-le")) // 2
    parts = 1 if units <= 70 else -(-units // 67)
    return Segments("ucs2", units, parts)


def fit(text: str, max_parts: int) -> str:
    """The text, shortened at a word where it can be (with an ellipsis), to cost at most ``max_parts`` SMS."""
    if count(text).parts <= max_parts:
        return text
    ellipsis = ELLIPSIS_GSM if is_gsm7(text) else ELLIPSIS_UCS2
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with its ellipsis
        middle = (low + high + 1) // 2
        if count(text[:middle].rstrip() + ellipsis).parts <= max_parts:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    at_word = cut.rsplit(" ", 1)[0] if " " in cut and len(cut) - cut.rfind(" ") < 20 else cut
    return at_word.rstrip() + ellipsis
