"""One-time codes that link accounts, and every attempt to use one (the audit and the guessing limits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.channels import ChannelName
from core.identity import LinkCode


class LinkOutcome(StrEnum):
    WRONG = "wrong"  # no such code
    EXPIRED = "expired"
    USED = "used"
    OWN = "own"  # the person's own code
    REQUESTED = "requested"  # the code is right: its owner is asked to approve
    REFUSED = "refused"  # the owner said no
    APPROVED = "approved"
    THROTTLED = "throttled"  # not even looked at: too many failures


# what counts against the guessing limits (per account, per code, platform-wide)
FAILED_OUTCOMES = frozenset({LinkOutcome.WRONG, LinkOutcome.EXPIRED, LinkOutcome.USED, LinkOutcome.REFUSED})


@dataclass(frozen=True)
class LinkAttempt:
    """One use of a code; a REQUESTED attempt is what the code's owner approves or refuses."""

    id: int  # 0 until recorded
    channel: ChannelName
    external_id: str
    code_id: int | None  # the code it named, when one was found
    outcome: LinkOutcome
    at: datetime


class LinkCodeRepository(Protocol):
    async def create(self, code: LinkCode) -> LinkCode: ...
    async def find(self, code: str) -> LinkCode | None:
        """The newest code with this text."""
        ...
    async def get(self, code_id: int) -> LinkCode: ...
    async def expire_for(self, person_id: int, now: datetime) -> None:
        """End every live code of this person (a new one replaces them)."""
        ...
    async def save(self, code: LinkCode) -> None: ...

    async def record_attempt(self, attempt: LinkAttempt) -> LinkAttempt:
        """Store it; the stored attempt (with its id)."""
        ...
    async def get_attempt(self, attempt_id: int) -> LinkAttempt | None: ...
    async def count_failures(self, since: datetime, *, channel: ChannelName | None = None,
                             external_id: str | None = None, code_id: int | None = None) -> int:
        """Failed attempts since ``since``: everyone's, or one account's, or against one code."""
        ...
    async def attempts(self, limit: int = 1000) -> list[LinkAttempt]:
        """The newest attempts first (for staff and tests)."""
        ...
