from __future__ import annotations

import contextlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promo.receipts import FiscalReceipt, Operation, ReceiptError, parse

ZONE = ZoneInfo("Europe/Moscow")
CANONICAL = "t=20240315T184200&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


@pytest.mark.parametrize("text", [
    "t=20240315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1",
    "t=20240315T184200&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1",
    "fp=2964503817&n=1&i=48213&fn=7380440700123456&s=1249.50&t=20240315T1842",
    "https://check.ofd.ru/rec?t=20240315T1842&amp;s=1249.50&amp;fn=7380440700123456&amp;i=48213&amp;fp=2964503817&amp;n=1",
    "  t = 20240315T1842 &\n s=1249,5\n fn=7380 4407 0012 3456\n i=48213 fp=2964503817 n=1 ",
    "е=20240315Е1842?ы=1249ю50?ат=7380440700123456?ш=48213?аз=2964503817?т=1",
    "t=20240315t1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1&extra=ok",
    "t=20240315T1842&s=1249.50&fn=7380 4407 0012 3456&i=48213&fp=2964503817&n=1",
    "t=20240315T1842&s=1 249.50&fn=7380 4407 0012 3456&i=48213&fp=2964 503 817&n=1",
])
def test_every_way_people_write_it_gives_the_same_receipt(text: str) -> None:
    assert parse(text, ZONE).canonical() == CANONICAL


def test_stored_exactly() -> None:
    receipt = parse(CANONICAL, ZONE)
    assert receipt.sum_kopecks == 124950 and isinstance(receipt.sum_kopecks, int)
    assert receipt.issued_at == datetime(2024, 3, 15, 18, 42, tzinfo=ZONE)
    assert receipt.key == (7380440700123456, 48213, 2964503817)
    assert receipt.operation is Operation.SALE


def test_whole_roubles_and_one_decimal() -> None:
    assert parse(CANONICAL.replace("1249.50", "1249"), ZONE).sum_kopecks == 124900
    assert parse(CANONICAL.replace("1249.50", "1249.5"), ZONE).sum_kopecks == 124950


def test_a_return_parses_but_is_not_a_sale() -> None:
    assert not parse(CANONICAL.replace("n=1", "n=2"), ZONE).is_sale


@pytest.mark.parametrize(("text", "reason"), [
    ("hello", "not_fiscal"),
    ("https://promo.example/scan?c=998052", "not_fiscal"),
    (CANONICAL.replace("&n=1", ""), "missing_n"),
    (CANONICAL.replace("fp=2964503817&", ""), "missing_fp"),
    (CANONICAL.replace("20240315T184200", "2024-03-15"), "bad_t"),
    (CANONICAL.replace("20240315T184200", "20241315T1842"), "bad_t"),
    (CANONICAL.replace("1249.50", "12.345"), "bad_s"),
    (CANONICAL.replace("1249.50", "0"), "bad_s"),
    (CANONICAL.replace("1249.50", "1e3"), "bad_s"),
    (CANONICAL.replace("7380440700123456", "738044070012345"), "bad_fn"),
    (CANONICAL.replace("i=48213", "i=0"), "bad_i"),
    (CANONICAL.replace("2964503817", "4294967296"), "bad_fp"),
    (CANONICAL.replace("n=1", "n=7"), "bad_n"),
])
def test_what_is_wrong_is_named(text: str, reason: str) -> None:
    with pytest.raises(ReceiptError) as caught:
        parse(text, ZONE)
    assert caught.value.reason == reason


receipts = st.builds(
    FiscalReceipt,
    issued_at=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31))
    .map(lambda d: d.replace(microsecond=0, tzinfo=ZONE)),
    sum_kopecks=st.integers(1, 10**10),
    fn=st.integers(10**15, 10**16 - 1),
    document_number=st.integers(1, 9_999_999_999),
    fiscal_sign=st.integers(1, 2**32 - 1),
    operation=st.sampled_from(list(Operation)),
)


@given(receipts, st.permutations(range(6)), st.sampled_from(["&", "\n", " & ", "&amp;"]))
@settings(max_examples=300, deadline=None)
def test_any_receipt_survives_reordering_and_separators(receipt: FiscalReceipt, order: list[int], sep: str) -> None:
    pairs = receipt.canonical().split("&")
    text = sep.join(pairs[i] for i in order)
    assert parse(text, ZONE) == receipt


@given(st.text(max_size=300))
@settings(max_examples=1000, deadline=None)
def test_fuzz_any_text_raises_nothing_but_receipt_error(text: str) -> None:
    with contextlib.suppress(ReceiptError):
        parse(text, ZONE)


@given(st.lists(st.tuples(st.sampled_from(["t", "s", "fn", "i", "fp", "n", "x", "T", "FN"]),
                          st.text(alphabet="0123456789T.,-& =%", max_size=20)), max_size=8))
@settings(max_examples=1000, deadline=None)
def test_fuzz_near_misses_raise_nothing_but_receipt_error(pairs: list[tuple[str, str]]) -> None:
    with contextlib.suppress(ReceiptError):
        parse("&".join(f"{k}={v}" for k, v in pairs), ZONE)
