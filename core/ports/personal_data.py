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


class PersonalData(Protocol):
    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """Blank or remove what identifies the person; how many rows changed."""
        ...
