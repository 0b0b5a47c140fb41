"""The durable intake: every update is stored before its channel is told it arrived.

An update's key is (bot, update id): ``bot`` names the receiving bot (channel and bot
identity), so a new token or a restarted emulator never collides with old ids. An update that
failed too often is set aside as dead, with its error, until staff retry it: it is kept, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.clean_text import storable


@dataclass(frozen=True)
class NewUpdate:
    update_id: str
    account_id: str | None  # who sent it, when the channel can tell cheaply (keeps one person's order)
    raw: dict[str, Any]

    def __post_init__(self) -> None:
        # the ids go into text columns as they are (the body is stored as JSON, where any escape is kept)
        object.__setattr__(self, "update_id", storable(self.update_id))
        if self.account_id is not None:
            object.__setattr__(self, "account_id", storable(self.account_id))


@dataclass(frozen=True)
class InboxEntry:
    id: int
    bot: str
    update_id: str
    account_id: str | None
    raw: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class DeadUpdate:
    """An update the platform gave up on: what it was, how often and why it failed, for staff to retry."""

    id: int
    bot: str
    update_id: str
    account_id: str | None
    raw: dict[str, Any]
    attempts: int
    error: str
    received_at: datetime
    dead_at: datetime


class InboxRepository(Protocol):
    async def add(self, bot: str, updates: list[NewUpdate], owner: str, now: datetime, *,
                  lease_until: datetime) -> list[InboxEntry | None]:
        """Store new updates leased to ``owner`` (until ``lease_until`` at the latest); None in the
        place of one already stored (a redelivery)."""
        ...
    async def claim_update(self, bot: str, update_id: str, now: datetime) -> bool:
        """Record an update applied directly (no stored body); False when it already was."""
        ...
    async def finish(self, entry_id: int, now: datetime) -> bool:
        """Mark the update processed, in the unit of work that applied it; False when it already was."""
        ...
    async def fail(self, entry_id: int, error: str, retry_at: datetime) -> None:
        """Processing failed for a reason outside the update: try again at ``retry_at``."""
        ...
    async def bury(self, entry_id: int, error: str, now: datetime) -> bool:
        """Give up on the update (this failure counted): kept aside with its error, neither processed nor claimed
        again, until ``revive``; False when it was processed or set aside already."""
        ...
    async def revive(self, entry_id: int, now: datetime) -> bool:
        """Put a dead update back, due at ``now`` with no attempts yet; False when it is not dead."""
        ...
    async def dead(self, limit: int) -> list[DeadUpdate]:
        """The dead updates, the latest to die first."""
        ...
    async def dead_count(self) -> int: ...
    async def claim_stale(self, now: datetime, owner: str, alive_since: datetime, limit: int, *,
                          lease_until: datetime) -> list[InboxEntry]:
        """Unprocessed updates nobody is working on — unowned and due, owned by a worker that stopped
        beating before ``alive_since``, or leased past their lease — oldest first, leased to ``owner``."""
        ...
    async def pending(self) -> int:
        """Updates still to be processed (dead ones are not: nothing takes them up until they are revived)."""
        ...

    async def cursor(self, bot: str) -> str | None:
        """Where the bot's polling stopped (VK's ``ts``), saved with the updates it fetched."""
        ...
    async def save_cursor(self, bot: str, value: str) -> None: ...

    async def purge(self, before: datetime) -> int:
        """Forget processed updates received before ``before`` (their ids are not redelivered that late)."""
        ...
