"""Erasing a person's personal data (152-FZ): every repository that keeps some implements ``PersonalData``.

What goes: names, phone numbers, e-mail addresses, the ids a messenger knows a person by,
what they wrote, their photos. What stays: the pseudonymous person id and every amount, so
the ledger still balances and a draw's protocol (which names person ids) can still be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.channels import ChannelName

ERASED = "[erased]"  # what stands where a person's words were


@dataclass(frozen=True)
class ErasureSubject:
    """Whose data goes: the person, and the addresses they had (other tables know them only by these)."""

    person_id: int
    accounts: tuple[tuple[ChannelName, str], ...] = ()
    addresses: tuple[str, ...] = ()  # their phone and e-mail as typed, which may be no account's id

    def known(self, shortest: int = 4) -> tuple[str, ...]:
        """Every id and address the person is known by, to blank wherever it stands inside a text (a delivery
        error, a router's reason); ids shorter than ``shortest`` are left, they would blank unrelated text."""
        found = {external for _, external in self.accounts} | set(self.addresses)
        return tuple(sorted((v for v in found if v and len(v) >= shortest), key=lambda v: (-len(v), v)))


def blank(text: str | None, subject: ErasureSubject) -> str | None:
    """``text`` with every id and address of the subject replaced by ``ERASED``."""
    if not text:
        return text
    for value in subject.known():
        text = text.replace(value, ERASED)
    return text


class PersonalData(Protocol):
    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """Blank or remove what identifies the person; how many rows changed."""
        ...
