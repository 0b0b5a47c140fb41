"""Draws and their winners in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from core.errors import ConflictError
from core.ports.draws import Draw, DrawChange, DrawStatus, Exclusion, Left, NewWinner, Winner, WinnerStatus
from core.ports.person_owned import Moved
from core.ports.personal_data import ERASED
from promo.draws import TierDraw
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.draws import draw_changes, draw_exclusions, draw_winners, draws

if TYPE_CHECKING:  # the erasure port (152-FZ) belongs to the staff console
    from core.ports.personal_data import ErasureSubject

OWNED = (draw_winners, draw_exclusions)
_DRAW_COLUMNS = [c for c in draws.c if c.name not in ("entry_list", "entrants")]  # read only when asked for
_RESULT_FIELDS = ("status", "seed", "beacon_chain", "beacon_round", "beacon_randomness", "beacon_signature",
                  "beacon_previous", "entries_hash", "participants", "entries", "excluded", "drawn_at", "frozen_at")
_winners_in_order = select(draw_winners).order_by(draw_winners.c.draw_id, draw_winners.c.tier_order,
                                                  draw_winners.c.position)


def _draw(row: Any) -> Draw:
    return record(Draw, row, status=DrawStatus(row.status),
                  tiers=tuple(TierDraw(str(t), int(w), int(r)) for t, w, r in row.tiers),
                  exclusions=tuple(Left(str(p), int(i), str(r)) for p, i, r in row.exclusions or ()))


def _winner(row: Any) -> Winner:
    return record(Winner, row, status=WinnerStatus(row.status), details=dict(row.details or {}))


class SqlDraws:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, campaign: str, code: str, entries_from: date, entries_to: date, draw_at: datetime,
                  tiers: tuple[TierDraw, ...], seed: str, participant_key: str, commitment: str, algorithm: str,
                  now: datetime, *, sealed_seed: str | None = None) -> Draw:
        values = {"campaign": campaign, "code": code, "status": DrawStatus.SCHEDULED.value, "sealed_seed": sealed_seed,
                  "entries_from": entries_from, "entries_to": entries_to, "draw_at": draw_at,
                  "tiers": [[t.tier, t.winners, t.reserves] for t in tiers], "commitment": commitment, "seed": seed,
                  "participant_key": participant_key, "algorithm": algorithm, "created_at": now,
                  "participants": 0, "entries": 0, "excluded": 0}
        draw_id = await self.db.scalar(insert(draws).values(**values).returning(draws.c.id))
        return await self.get(draw_id)

    async def get(self, draw_id: int) -> Draw:
        row = await self.db.first(select(*_DRAW_COLUMNS).where(draws.c.id == draw_id))
        if row is None:
            raise LookupError(f"no draw {draw_id}")
        return _draw(row)

    async def of_campaign(self, campaign: str) -> list[Draw]:
        rows = await self.db.rows(select(*_DRAW_COLUMNS).where(draws.c.campaign == campaign)
                                  .order_by(draws.c.draw_at, draws.c.id))
        return [_draw(row) for row in rows]

    async def due(self, now: datetime) -> list[Draw]:
        rows = await self.db.rows(select(*_DRAW_COLUMNS).where(draws.c.status == DrawStatus.SCHEDULED.value,
                                                               draws.c.draw_at <= now)
                                  .order_by(draws.c.draw_at, draws.c.id))
        return [_draw(row) for row in rows]

    async def scheduled(self) -> list[Draw]:
        rows = await self.db.rows(select(*_DRAW_COLUMNS).where(draws.c.status == DrawStatus.SCHEDULED.value)
                                  .order_by(draws.c.draw_at, draws.c.id))
        return [_draw(row) for row in rows]

    async def save(self, draw: Draw) -> None:
        values = {name: getattr(draw, name) for name in _RESULT_FIELDS}
        values["status"] = draw.status.value
        values["exclusions"] = [[e.participant, e.person_id, e.reason] for e in draw.exclusions] or None
        await self.db.execute(update(draws).where(draws.c.id == draw.id).values(**values))

    async def reschedule(self, draw_id: int, draw_at: datetime | None, reason: str, staff_id: int | None,
                         now: datetime) -> DrawChange:
        before = await self.get(draw_id)
        values: dict[str, Any] = {"draw_at": draw_at} if draw_at is not None else \
            {"status": DrawStatus.CANCELLED.value}
        # one conditional update: a freeze committed meanwhile (its list kept) makes it change nothing
        result = await self.db.execute(update(draws).where(
            draws.c.id == draw_id, draws.c.status == DrawStatus.SCHEDULED.value, draws.c.frozen_at.is_(None),
            draws.c.entry_list.is_(None)).values(**values))
        if result.rowcount == 0:
            raise ConflictError(f"draw {draw_id}: no longer scheduled with its list open")
        change = {"draw_id": draw_id, "draw_at_before": before.draw_at, "draw_at_after": draw_at, "reason": reason,
                  "staff_id": staff_id, "changed_at": now}
        change_id = await self.db.scalar(insert(draw_changes).values(**change).returning(draw_changes.c.id))
        return DrawChange(change_id, **change)

    async def changes(self, draw_id: int) -> list[DrawChange]:
        rows = await self.db.rows(select(draw_changes).where(draw_changes.c.draw_id == draw_id)
                                  .order_by(draw_changes.c.id))
        return [record(DrawChange, row) for row in rows]

    async def keep_list(self, draw_id: int, data: bytes, entrants: Sequence[int] = ()) -> None:
        packed = b"".join(person.to_bytes(8, "big") for person in entrants)
        # conditional on the stored state, not on the draw the freeze read: a cancel committed since then (another
        # process) makes it change nothing, so the freeze's save cannot write "scheduled" back over it; on
        # PostgreSQL the row then stays locked by this transaction until the save
        result = await self.db.execute(update(draws).where(
            draws.c.id == draw_id, draws.c.entry_list.is_(None), draws.c.status != DrawStatus.CANCELLED.value)
            .values(entry_list=data, entrants=packed))
        if result.rowcount == 0:  # frozen once, or cancelled: another process got there first
            raise ConflictError(f"draw {draw_id}: its list is kept already, or it was cancelled")

    async def entry_list(self, draw_id: int) -> bytes | None:
        value = await self.db.scalar(select(draws.c.entry_list).where(draws.c.id == draw_id))
        return None if value is None else bytes(value)

    async def entrants(self, draw_id: int) -> list[int]:
        value = bytes(await self.db.scalar(select(draws.c.entrants).where(draws.c.id == draw_id)) or b"")
        return [int.from_bytes(value[i:i + 8], "big") for i in range(0, len(value), 8)]

    async def add_winners(self, draw_id: int, winners: list[NewWinner], now: datetime) -> list[Winner]:
        draw = await self.get(draw_id)
        order = {tier.tier: index for index, tier in enumerate(draw.tiers)}
        if winners:
            await self.db.execute(insert(draw_winners), [
                {"draw_id": draw_id, "person_id": w.person_id, "participant": w.participant, "tier": w.tier,
                 "tier_order": order.get(w.tier, len(order)), "position": w.position, "reserve": w.reserve,
                 "status": w.status.value, "deadline": w.deadline, "details": {}, "updated_at": now}
                for w in winners])
        return await self.winners(draw_id)

    async def winners(self, draw_id: int) -> list[Winner]:
        rows = await self.db.rows(_winners_in_order.where(draw_winners.c.draw_id == draw_id))
        return [_winner(row) for row in rows]

    async def winner(self, winner_id: int) -> Winner:
        row = await self.db.first(select(draw_winners).where(draw_winners.c.id == winner_id))
        if row is None:
            raise LookupError(f"no winner {winner_id}")
        return _winner(row)

    async def save_winner(self, winner: Winner) -> None:
        await self.db.execute(update(draw_winners).where(draw_winners.c.id == winner.id).values(
            status=winner.status.value, deadline=winner.deadline, details=winner.details,
            updated_at=winner.updated_at))

    async def wins_of(self, person_id: int) -> list[Winner]:
        rows = await self.db.rows(_winners_in_order.where(draw_winners.c.person_id == person_id))
        return [_winner(row) for row in rows]

    async def overdue(self, now: datetime, limit: int) -> list[Winner]:
        rows = await self.db.rows(select(draw_winners).where(
            draw_winners.c.status == WinnerStatus.NOTIFIED.value, draw_winners.c.deadline <= now)
            .order_by(draw_winners.c.deadline, draw_winners.c.id).limit(limit))
        return [_winner(row) for row in rows]

    async def campaign_winners(self, campaign: str) -> list[Winner]:
        rows = await self.db.rows(select(draw_winners).join(draws, draws.c.id == draw_winners.c.draw_id)
                                  .where(draws.c.campaign == campaign)
                                  .order_by(draw_winners.c.draw_id, draw_winners.c.tier_order,
                                            draw_winners.c.position))
        return [_winner(row) for row in rows]

    async def exclude(self, campaign: str, person_id: int, reason: str, note: str, staff_id: int | None,
                      now: datetime) -> Exclusion:
        values = {"campaign": campaign, "person_id": person_id, "reason": reason, "note": note, "staff_id": staff_id,
                  "decided_at": now}
        exclusion_id = await self.db.scalar(insert(draw_exclusions).values(**values).returning(draw_exclusions.c.id))
        return Exclusion(exclusion_id, **values)  # type: ignore[arg-type]

    async def exclusions(self, campaign: str, before: datetime | None = None) -> list[Exclusion]:
        e = draw_exclusions.c
        rows = await self.db.rows(select(draw_exclusions).where(
            e.campaign == campaign, *([e.decided_at < before] if before is not None else [])).order_by(e.id))
        return [record(Exclusion, row) for row in rows]

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """A winner's name, address and phone go; the pseudonym, tier and status stay (the protocol holds)."""
        result = await self.db.execute(update(draw_winners).where(draw_winners.c.person_id == subject.person_id)
                                       .values(details={}, updated_at=now))
        notes = await self.db.execute(update(draw_exclusions).where(draw_exclusions.c.person_id == subject.person_id)
                                      .values(note=ERASED))  # the moderator's words may name them
        return int(result.rowcount) + int(notes.rowcount)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)
