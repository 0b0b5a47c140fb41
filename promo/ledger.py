"""The cashback ledger's rules: double entry in integer kopecks, never a float.

Every movement is a transaction of postings that sum to zero. A person's money
lives in three accounts — ``pending`` (accrued, awaiting verification),
``available`` (approved) and ``requested`` (asked to be paid out) — and comes
from the campaign's ``expense`` account; paid money goes to ``paid_out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from promo.errors import PromoError


class LedgerAccount(StrEnum):
    EXPENSE = "campaign_expense"
    PENDING = "cashback_pending"
    AVAILABLE = "cashback_available"
    REQUESTED = "payout_requested"
    PAID_OUT = "paid_out"


PERSON_ACCOUNTS = (LedgerAccount.PENDING, LedgerAccount.AVAILABLE, LedgerAccount.REQUESTED)


class LedgerError(PromoError):
    """A movement that would break the ledger: unbalanced, non-integer, or more than the balance."""


@dataclass(frozen=True)
class Posting:
    account: LedgerAccount
    amount_kopecks: int  # positive: into the account
    person_id: int | None  # set for a person's own accounts


@dataclass(frozen=True)
class Movement:
    kind: str  # accrual | approval | reversal | payout_request | payout | payout_cancel
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if any(type(p.amount_kopecks) is not int for p in self.postings):
            raise LedgerError("not_integer", "amounts are integer kopecks")
        if sum(p.amount_kopecks for p in self.postings) != 0:
            raise LedgerError("unbalanced", self.kind)


def _move(kind: str, amount: int, person_id: int, source: LedgerAccount, target: LedgerAccount) -> Movement:
    if type(amount) is not int or amount <= 0:
        raise LedgerError("bad_amount", str(amount))
    source_owner = person_id if source in PERSON_ACCOUNTS else None
    target_owner = person_id if target in PERSON_ACCOUNTS else None
    return Movement(kind, (Posting(source, -amount, source_owner), Posting(target, amount, target_owner)))


def accrual(person_id: int, amount: int) -> Movement:
    return _move("accrual", amount, person_id, LedgerAccount.EXPENSE, LedgerAccount.PENDING)


def approval(person_id: int, amount: int) -> Movement:
    return _move("approval", amount, person_id, LedgerAccount.PENDING, LedgerAccount.AVAILABLE)


def reversal(person_id: int, amount: int, from_account: LedgerAccount = LedgerAccount.PENDING) -> Movement:
    return _move("reversal", amount, person_id, from_account, LedgerAccount.EXPENSE)


def payout_request(person_id: int, amount: int, available: int) -> Movement:
    if amount > available:
        raise LedgerError("insufficient", f"{amount} > {available}")
    return _move("payout_request", amount, person_id, LedgerAccount.AVAILABLE, LedgerAccount.REQUESTED)


def payout(person_id: int, amount: int) -> Movement:
    return _move("payout", amount, person_id, LedgerAccount.REQUESTED, LedgerAccount.PAID_OUT)


def payout_cancel(person_id: int, amount: int) -> Movement:
    """A requested payout taken back before it was paid: the money is the person's to take again."""
    return _move("payout_cancel", amount, person_id, LedgerAccount.REQUESTED, LedgerAccount.AVAILABLE)


def format_roubles(kopecks: int) -> str:
    """``123456`` -> ``1 234,56`` (Russian style; the template adds ₽)."""
    sign = "-" if kopecks < 0 else ""
    roubles, rest = divmod(abs(kopecks), 100)
    return f"{sign}{roubles:,}".replace(",", " ") + f",{rest:02d}"
