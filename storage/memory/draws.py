"""Draws and their winners in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from core.errors import ConflictError
from core.ports.draws import Draw, DrawChange, DrawStatus, Exclusion, NewWinner, Winner, WinnerStatus
from core.ports.person_owned import Moved
from core.ports.personal_data import ERASED
from promo.draws import TierDraw
from storage.memory.table import Table, json_copy, reassign_rows, restore_rows, utc

if TYPE_CHECKING:  # the erasure port (152-FZ) belongs to the staff console
    from core.ports.personal_data import ErasureSubject


class DrawTables:
    def __init__(self) -> None:
        self.draws: Table[int, Draw] = Table("draws", unique={"code": lambda d: (d.campaign, d.code)})
        self.lists: Table[int, bytes] = Table("draw_lists")
        self.entrants: Table[int, tuple[int, ...]] = Table("draw_entrants")
        self.winners: Table[int, Winner] = Table("draw_winners")
        self.exclusions: Table[int, Exclusion] = Table("draw_exclusions")
        self.changes: Table[int, DrawChange] = Table("draw_changes")

    def all(self) -> list[Table]:
        return [self.draws, self.lists, self.entrants, self.winners, self.exclusions, self.changes]


class MemoryDraws:
    def __init__(self, tables: DrawTables, persons: Table) -> None:
        self._t = tables
        self._persons = persons

    async def add(self, campaign: str, code: str, entries_from: date, entries_to: date, draw_at: datetime,
                  tiers: tuple[TierDraw, ...], seed: str, participant_key: str, commitment: str, algorithm: str,
                  now: datetime, *, sealed_seed: str | None = None) -> Draw:
        if self._t.draws.find("code", (campaign, code)) is not None:
            raise ConflictError(f"draws: {campaign}/{code} exists")
        draw = Draw(self._t.draws.next_id(), campaign, code, DrawStatus.SCHEDULED, entries_from, entries_to,
                    utc(draw_at), tuple(tiers), commitment, seed, participant_key, algorithm, utc(now),
                    sealed_seed=sealed_seed)
        return self._t.draws.put(draw.id, draw)

    async def get(self, draw_id: int) -> Draw:
        return self._t.draws.one(draw_id)

    async def of_campaign(self, campaign: str) -> list[Draw]:
        return sorted(self._t.draws.where(lambda d: d.campaign == campaign), key=lambda d: (d.draw_at, d.id))

    async def due(self, now: datetime) -> list[Draw]:
        return sorted(self._t.draws.where(lambda d: d.status is DrawStatus.SCHEDULED and d.draw_at <= now),
                      key=lambda d: (d.draw_at, d.id))

    async def scheduled(self) -> list[Draw]:
        return sorted(self._t.draws.where(lambda d: d.status is DrawStatus.SCHEDULED), key=lambda d: (d.draw_at, d.id))

    async def save(self, draw: Draw) -> None:
        stored = self._t.draws.one(draw.id)
        self._t.draws.put(draw.id, replace(
            stored, status=DrawStatus(draw.status), seed=draw.seed, frozen_at=utc(draw.frozen_at),
            beacon_chain=draw.beacon_chain, beacon_round=draw.beacon_round,
            beacon_randomness=draw.beacon_randomness, beacon_signature=draw.beacon_signature,
            beacon_previous=draw.beacon_previous, entries_hash=draw.entries_hash, participants=draw.participants,
            entries=draw.entries, excluded=draw.excluded, exclusions=tuple(draw.exclusions),
            drawn_at=utc(draw.drawn_at) if draw.drawn_at else None))

    async def reschedule(self, draw_id: int, draw_at: datetime | None, reason: str, staff_id: int | None,
                         now: datetime) -> DrawChange:
        stored = self._t.draws.one(draw_id)
        if stored.status is not DrawStatus.SCHEDULED or stored.frozen or self._t.lists.get(draw_id) is not None:
            raise ConflictError(f"draw {draw_id}: no longer scheduled with its list open")
        moved = replace(stored, draw_at=utc(draw_at)) if draw_at is not None else \
            replace(stored, status=DrawStatus.CANCELLED)
        self._t.draws.put(draw_id, moved)
        change = DrawChange(self._t.changes.next_id(), draw_id, stored.draw_at, utc(draw_at) if draw_at else None,
                            reason, staff_id, utc(now))
        return self._t.changes.put(change.id, change)

    async def changes(self, draw_id: int) -> list[DrawChange]:
        return sorted(self._t.changes.where(lambda c: c.draw_id == draw_id), key=lambda c: c.id)

    async def keep_list(self, draw_id: int, data: bytes, entrants: Sequence[int] = ()) -> None:
        stored = self._t.draws.one(draw_id)
        if self._t.lists.get(draw_id) is not None or stored.status is DrawStatus.CANCELLED:
            raise ConflictError(f"draw {draw_id}: its list is kept already, or it was cancelled")
        self._t.lists.put(draw_id, bytes(data))
        self._t.entrants.put(draw_id, tuple(entrants))

    async def entry_list(self, draw_id: int) -> bytes | None:
        return self._t.lists.get(draw_id)

    async def entrants(self, draw_id: int) -> list[int]:
        return list(self._t.entrants.get(draw_id) or ())

    def _order(self, winner: Winner) -> tuple[int, int, int]:
        draw = self._t.draws.one(winner.draw_id)
        tiers = [t.tier for t in draw.tiers]
        return (winner.draw_id, tiers.index(winner.tier) if winner.tier in tiers else len(tiers), winner.position)

    async def add_winners(self, draw_id: int, winners: list[NewWinner], now: datetime) -> list[Winner]:
        self._t.draws.one(draw_id)
        for new in winners:
            self._persons.one(new.person_id)
            winner = Winner(self._t.winners.next_id(), draw_id, new.person_id, new.participant, new.tier,
                            new.position, new.reserve, WinnerStatus(new.status), utc(now),
                            utc(new.deadline) if new.deadline else None, {})
            self._t.winners.put(winner.id, winner)
        return await self.winners(draw_id)

    async def winners(self, draw_id: int) -> list[Winner]:
        return sorted(self._t.winners.where(lambda w: w.draw_id == draw_id), key=self._order)

    async def winner(self, winner_id: int) -> Winner:
        return self._t.winners.one(winner_id)

    async def save_winner(self, winner: Winner) -> None:
        stored = self._t.winners.one(winner.id)
        self._t.winners.put(winner.id, replace(stored, status=WinnerStatus(winner.status),
                                               deadline=utc(winner.deadline) if winner.deadline else None,
                                               details=json_copy(winner.details), updated_at=utc(winner.updated_at)))

    async def wins_of(self, person_id: int) -> list[Winner]:
        return sorted(self._t.winners.where(lambda w: w.person_id == person_id), key=self._order)

    async def overdue(self, now: datetime, limit: int) -> list[Winner]:
        due = self._t.winners.where(lambda w: w.status is WinnerStatus.NOTIFIED and w.deadline is not None
                                    and w.deadline <= now)
        return sorted(due, key=lambda w: (w.deadline, w.id))[:limit]

    async def campaign_winners(self, campaign: str) -> list[Winner]:
        draws = {d.id for d in self._t.draws.where(lambda d: d.campaign == campaign)}
        return sorted(self._t.winners.where(lambda w: w.draw_id in draws), key=self._order)

    async def exclude(self, campaign: str, person_id: int, reason: str, note: str, staff_id: int | None,
                      now: datetime) -> Exclusion:
        self._persons.one(person_id)
        exclusion = Exclusion(self._t.exclusions.next_id(), campaign, person_id, reason, note, staff_id, utc(now))
        return self._t.exclusions.put(exclusion.id, exclusion)

    async def exclusions(self, campaign: str, before: datetime | None = None) -> list[Exclusion]:
        return sorted(self._t.exclusions.where(lambda e: e.campaign == campaign and (
            before is None or e.decided_at < before)), key=lambda e: e.id)

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        mine = self._t.winners.where(lambda w: w.person_id == subject.person_id)
        for winner in mine:
            self._t.winners.put(winner.id, replace(winner, details={}, updated_at=utc(now)))
        notes = self._t.exclusions.where(lambda e: e.person_id == subject.person_id)
        for exclusion in notes:  # see storage.sql.draws
            self._t.exclusions.put(exclusion.id, replace(exclusion, note=ERASED))
        return len(mine) + len(notes)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows([self._t.winners, self._t.exclusions], absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows([self._t.winners, self._t.exclusions], moved, person_id)
