"""Prize draws as stored: the commitment and secrets, the frozen entry list, the result; and the winners."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from core.ports.person_owned import Moved
from promo.draws import TierDraw


class DrawStatus(StrEnum):
    SCHEDULED = "scheduled"  # its commitment is published; its list is frozen at the entries' close (frozen_at)
    DRAWN = "drawn"  # the list is frozen, the winners chosen, the seed revealed
    CANCELLED = "cancelled"


class WinnerStatus(StrEnum):
    RESERVE = "reserve"  # waits: steps in when someone before them drops out
    NOTIFIED = "notified"  # told, has until the deadline to confirm (from the notice's delivery on)
    UNREACHED = "unreached"  # the notice reached none of their channels: no deadline runs; staff decide
    CONFIRMED = "confirmed"  # gave what the prize needs
    SENT = "sent"  # staff sent the prize
    DECLINED = "declined"  # refused
    EXPIRED = "expired"  # did not answer in time
    SKIPPED = "skipped"  # a reserve never needed, or barred since (fraud found later)
    PASSED = "passed"  # never reached: staff handed the prize to the next reserve, saying why (audit log)


AWARDED = (WinnerStatus.NOTIFIED, WinnerStatus.UNREACHED, WinnerStatus.CONFIRMED, WinnerStatus.SENT)


@dataclass(frozen=True)
class Left:
    """One person left out of a frozen list: their pseudonym and reason code are published, the id is staff's."""

    participant: str
    person_id: int
    reason: str


@dataclass(frozen=True)
class Exclusion:
    """A moderator's decision: this person takes no part in the campaign's draws whose lists close after it."""

    id: int
    campaign: str
    person_id: int
    reason: str  # a code (``core.draws.EXCLUSION_REASONS``), published with the pseudonym
    note: str  # the moderator's words, for staff
    staff_id: int | None
    decided_at: datetime


@dataclass(frozen=True)
class DrawChange:
    """A scheduled draw moved or cancelled before its list was frozen: who, when, why (the audit log has it too,
    but the draw's page and its public record show it beside the draw)."""

    id: int
    draw_id: int
    draw_at_before: datetime
    draw_at_after: datetime | None  # None: cancelled
    reason: str
    staff_id: int | None  # None: the command line
    changed_at: datetime

    @property
    def cancelled(self) -> bool:
        return self.draw_at_after is None


@dataclass(frozen=True)
class Draw:
    id: int
    campaign: str
    code: str
    status: DrawStatus
    entries_from: date
    entries_to: date
    draw_at: datetime
    tiers: tuple[TierDraw, ...]
    commitment: str  # SHA-256 of the seed, published from the start
    seed: str  # hex, once revealed at the draw; "" before (draws scheduled before seeds were sealed kept it here)
    participant_key: str  # hex; never published: pseudonyms cannot be traced back to people
    algorithm: str
    created_at: datetime
    beacon_chain: str | None = None  # a future drand round named before the draw
    beacon_round: int | None = None
    beacon_randomness: str | None = None  # filled once fetched and verified
    beacon_signature: str | None = None
    beacon_previous: str | None = None
    entries_hash: str | None = None
    participants: int = 0
    entries: int = 0
    excluded: int = 0  # people left out as flagged for fraud
    drawn_at: datetime | None = None
    sealed_seed: str | None = None  # the seed encrypted with DRAW_SEED_KEY (core.draws.sealing) until the draw
    frozen_at: datetime | None = None  # when the list was frozen and its hash published (entries_hash, counts)
    exclusions: tuple[Left, ...] = ()  # who a moderator's decision left out of the list, as at its close


    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


@dataclass(frozen=True)
class Winner:
    id: int
    draw_id: int
    person_id: int
    participant: str  # the pseudonym in the draw's list
    tier: str
    position: int
    reserve: bool
    status: WinnerStatus
    updated_at: datetime
    deadline: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)  # full name, address, phone as the winner gave them


@dataclass(frozen=True)
class NewWinner:
    person_id: int
    participant: str
    tier: str
    position: int
    reserve: bool
    status: WinnerStatus
    deadline: datetime | None


class DrawRepository(Protocol):
    async def add(self, campaign: str, code: str, entries_from: date, entries_to: date, draw_at: datetime,
                  tiers: tuple[TierDraw, ...], seed: str, participant_key: str, commitment: str, algorithm: str,
                  now: datetime, *, sealed_seed: str | None = None) -> Draw:
        """``ConflictError`` when the campaign already has a draw with this code. New draws pass ``seed=""`` and
        the seed sealed; a plain ``seed`` is what draws scheduled before sealing kept."""
        ...
    async def get(self, draw_id: int) -> Draw: ...
    async def of_campaign(self, campaign: str) -> list[Draw]:
        """By draw time."""
        ...
    async def due(self, now: datetime) -> list[Draw]:
        """Scheduled draws whose time has come, oldest first."""
        ...
    async def scheduled(self) -> list[Draw]:
        """Every scheduled draw (their lists frozen or not), by draw time."""
        ...
    async def save(self, draw: Draw) -> None:
        """Status, beacon, the frozen list's figures, the revealed seed and result fields."""
        ...
    async def reschedule(self, draw_id: int, draw_at: datetime | None, reason: str, staff_id: int | None,
                         now: datetime) -> DrawChange:
        """Move a scheduled draw to ``draw_at``, or cancel it (``None``), and keep the change. Only while its list is
        not frozen: ``ConflictError`` when it was frozen (or drawn, or cancelled) meanwhile, by the keeper in another
        process say; nothing changes then."""
        ...
    async def changes(self, draw_id: int) -> list[DrawChange]:
        """The draw's moves and its cancellation, oldest first."""
        ...
    async def keep_list(self, draw_id: int, data: bytes, entrants: Sequence[int] = ()) -> None:
        """The frozen entry list, exactly as exported, and who each row is (person ids in the list's order: the
        pseudonyms are not reversible). ``ConflictError`` when the draw's list is kept
        already (it is frozen once) or the stored draw was cancelled (by another process after the freeze read
        it): nothing changes then."""
        ...
    async def entry_list(self, draw_id: int) -> bytes | None: ...
    async def entrants(self, draw_id: int) -> list[int]:
        """The person of each row of the frozen list, in its order."""
        ...

    async def add_winners(self, draw_id: int, winners: list[NewWinner], now: datetime) -> list[Winner]: ...
    async def winners(self, draw_id: int) -> list[Winner]:
        """By tier order of drawing, then position."""
        ...
    async def winner(self, winner_id: int) -> Winner: ...
    async def save_winner(self, winner: Winner) -> None: ...
    async def wins_of(self, person_id: int) -> list[Winner]: ...
    async def overdue(self, now: datetime, limit: int) -> list[Winner]:
        """Notified winners whose deadline passed."""
        ...
    async def campaign_winners(self, campaign: str) -> list[Winner]: ...

    async def exclude(self, campaign: str, person_id: int, reason: str, note: str, staff_id: int | None,
                      now: datetime) -> Exclusion: ...
    async def exclusions(self, campaign: str, before: datetime | None = None) -> list[Exclusion]:
        """The campaign's exclusions (decided before ``before``, if given), oldest first."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
