"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection).

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return, which some spreadsheets skip
before looking) is a formula to Excel and LibreOffice: a person's name ``=HYPERLINK("http://…")`` in the
payouts list would run when staff open it. Such a cell gets a leading apostrophe, which spreadsheets
read as "text follows" and do not show. A plain number or phone (``-5``, ``+79161234567``) is no
formula and stays as it is: the payout operator copies the phone from this file. (defusedcsv, the
library for this, also wraps ``+7…`` phones in quotes: ``'+79161234567'`` — no longer a number to dial.)
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a number or a phone: digits with spaces, dots, brackets, hyphens — arithmetic at most, no function to call
_NUMBER = re.compile(r"[+-]?[\d ().-]*\d[\d ().-]*")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
