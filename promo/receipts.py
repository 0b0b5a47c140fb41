"""The Russian fiscal receipt QR string: liberal in what it reads, exact in what it keeps.

Reads ``t=20240315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1``
however it arrives: inside a URL, with ``&amp;``, spaces or line breaks, keys in
any order, with or without seconds, or typed on a Russian keyboard layout.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from promo.errors import PromoError

REQUIRED = ("t", "s", "fn", "i", "fp", "n")
FN_DIGITS = 16
MAX_DOCUMENT_NUMBER = 9_999_999_999
MAX_FISCAL_SIGN = 2**32 - 1
MAX_SUM_KOPECKS = 100_000_000_00  # a hundred million roubles: anything above is a typo
TIME_FORMATS = ("%Y%m%dT%H%M%S", "%Y%m%dT%H%M")
MAX_INPUT = 2048

# The same keys on a Russian layout: a keyboard-wedge scanner types "е=…?ы=…" for "t=…&s=…".
_LATIN = "qwertyuiop[]asdfghjkl;'zxcvbnm,./QWERTYUIOP{}ASDFGHJKL:\"ZXCVBNM<>?&"
_CYRILLIC = "йцукенгшщзхъфывапролджэячсмитьбю.ЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,?"
_FROM_RUSSIAN_LAYOUT = str.maketrans(_CYRILLIC, _LATIN[: len(_CYRILLIC)])


class Operation(IntEnum):
    SALE = 1
    SALE_RETURN = 2
    EXPENSE = 3
    EXPENSE_RETURN = 4


class ReceiptError(PromoError):
    """The text is not a usable fiscal receipt string; ``reason`` says which part is wrong."""


@dataclass(frozen=True)
class FiscalReceipt:
    issued_at: datetime  # aware, in the campaign's zone
    sum_kopecks: int
    fn: int
    document_number: int  # i: the fiscal document number (ФД)
    fiscal_sign: int  # fp: ФП / ФПД
    operation: Operation

    @property
    def key(self) -> tuple[int, int, int]:
        """(fn, i, fp): the same triple is the same receipt, whoever sends it."""
        return (self.fn, self.document_number, self.fiscal_sign)

    @property
    def is_sale(self) -> bool:
        return self.operation is Operation.SALE

    def canonical(self) -> str:
        """The normal form, with seconds, as the tax service wants it."""
        roubles, kopecks = divmod(self.sum_kopecks, 100)
        return (f"t={self.issued_at:%Y%m%dT%H%M%S}&s={roubles}.{kopecks:02d}&fn={self.fn:0{FN_DIGITS}d}"
                f"&i={self.document_number}&fp={self.fiscal_sign}&n={int(self.operation)}")


def _query_part(text: str) -> str:
    text = html.unescape(html.unescape(text.strip()))  # "&amp;amp;" happens when pasted twice
    if re.search(r"[а-яё]", text, re.IGNORECASE) and not re.search(r"[a-z]=", text):
        text = text.translate(_FROM_RUSSIAN_LAYOUT)
    if "://" in text or text.startswith("?"):
        query = urlsplit(text if "://" in text else "x://h/" + text).query
        text = query or text
    text = re.sub(r"\s*([=&;])\s*", r"\1", text)
    # values split by spaces ("fn=7380 4407 0012 3456&i=…") are joined; a new "key=" starts a new pair
    tokens = re.split(r"[\s;&]+", text)
    pairs: list[str] = []
    for token in tokens:
        if not token:
            continue
        if "=" in token or not pairs:
            pairs.append(token)
        else:
            pairs[-1] += token
    return "&".join(pairs)


def _fields(text: str) -> dict[str, str]:
    if len(text) > MAX_INPUT:
        raise ReceiptError("not_fiscal", "too long to be a receipt code")
    fields: dict[str, str] = {}
    for key, value in parse_qsl(_query_part(text), keep_blank_values=True):
        fields.setdefault(key.strip().lower(), value.strip())
    if not {"fn", "fp"} & fields.keys() or not {"t", "s", "i"} & fields.keys():
        raise ReceiptError("not_fiscal", "no fiscal receipt fields")
    for key in REQUIRED:
        if not fields.get(key):
            raise ReceiptError(f"missing_{key}")
    return fields


def _positive(value: str, name: str, limit: int, digits: int | None = None) -> int:
    if not value.isdigit() or (digits is not None and len(value) != digits):
        raise ReceiptError(f"bad_{name}", value[:32])
    number = int(value)
    if not 0 < number <= limit:
        raise ReceiptError(f"bad_{name}", value[:32])
    return number


def parse_time(value: str, zone: ZoneInfo) -> datetime:
    cleaned = value.strip().upper().replace(":", "").replace("-", "")
    # strptime would read "1842" as 18:04:02 under %H%M%S, so the shape picks the format
    if not re.fullmatch(r"\d{8}T\d{4}(\d{2})?", cleaned):
        raise ReceiptError("bad_t", value[:32])
    try:
        moment = datetime.strptime(cleaned, TIME_FORMATS[0] if len(cleaned) == 15 else TIME_FORMATS[1])
    except ValueError as e:
        raise ReceiptError("bad_t", value[:32]) from e
    if not 2000 <= moment.year <= 2100:
        raise ReceiptError("bad_t", value[:32])
    return moment.replace(tzinfo=zone)


def parse_sum(value: str) -> int:
    """Roubles as written (``1249.50``, ``1249,5``, ``1249``) -> kopecks, never through a float."""
    cleaned = value.strip().replace(",", ".").replace(" ", "")
    if not re.fullmatch(r"\d{1,12}(\.\d{1,2})?", cleaned):
        raise ReceiptError("bad_s", value[:32])
    try:
        kopecks = int(Decimal(cleaned) * 100)
    except InvalidOperation as e:
        raise ReceiptError("bad_s", value[:32]) from e
    if not 0 < kopecks <= MAX_SUM_KOPECKS:
        raise ReceiptError("bad_s", value[:32])
    return kopecks


def parse_fn(value: str) -> int:
    return _positive(re.sub(r"\s", "", value), "fn", 10**FN_DIGITS - 1, FN_DIGITS)


def parse_document_number(value: str) -> int:
    return _positive(value.strip(), "i", MAX_DOCUMENT_NUMBER)


def parse_fiscal_sign(value: str) -> int:
    return _positive(value.strip(), "fp", MAX_FISCAL_SIGN)


def parse(text: str, zone: ZoneInfo) -> FiscalReceipt:
    """The receipt in ``text``, or ``ReceiptError`` naming the first field that is wrong."""
    if not isinstance(text, str):
        raise ReceiptError("not_fiscal", "not text")
    fields = _fields(text)
    try:
        operation = Operation(int(fields["n"]))
    except ValueError as e:
        raise ReceiptError("bad_n", fields["n"][:8]) from e
    return FiscalReceipt(
        issued_at=parse_time(fields["t"], zone),
        sum_kopecks=parse_sum(fields["s"]),
        fn=parse_fn(fields["fn"]),
        document_number=parse_document_number(fields["i"]),
        fiscal_sign=parse_fiscal_sign(fields["fp"]),
        operation=operation,
    )


def looks_fiscal(text: str, zone: ZoneInfo) -> bool:
    try:
        parse(text, zone)
    except ReceiptError:
        return False
    return True
