"""The router's decisions, people's channel preferences and their channels' records, in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update

from core.channels import ChannelName
from core.delivery import MessageStatus
from core.ports.person_owned import Moved
from core.ports.personal_data import ErasureSubject, blank
from core.ports.routes import Candidate, ChannelRecord, Preference, RouteDecision
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.tables.messages import outbox
from storage.tables.routing import channel_preferences, route_decisions

OWNED = (route_decisions, channel_preferences)
_record = insert(route_decisions)
_outcomes = (select(route_decisions.c.person_id, route_decisions.c.channel, route_decisions.c.outcome,
                    func.count().label("n"))
             .where(route_decisions.c.person_id.in_(bindparam("ids", expanding=True)),
                    route_decisions.c.channel.is_not(None))
             .group_by(route_decisions.c.person_id, route_decisions.c.channel, route_decisions.c.outcome))
_answers = (select(outbox.c.person_id, outbox.c.channel, func.count().label("asked"),
                   func.count(outbox.c.acked_at).label("acked"))
            .where(outbox.c.person_id.in_(bindparam("ids", expanding=True)), outbox.c.ack_window_s.is_not(None),
                   outbox.c.channel.is_not(None),
                   outbox.c.status.in_([MessageStatus.AWAITING_ACK.value, MessageStatus.ACKNOWLEDGED.value,
                                        MessageStatus.UNREACHED.value]))
            .group_by(outbox.c.person_id, outbox.c.channel))
_preferences = select(channel_preferences).where(channel_preferences.c.person_id.in_(bindparam("ids",
                                                                                              expanding=True)))


_erase = (update(route_decisions).where(route_decisions.c.id == bindparam("id_"))
          .values(external_id=None, detail=bindparam("detail_"), candidates=bindparam("candidates_")))


def _decision(row: object) -> RouteDecision:
    r = row._mapping  # type: ignore[attr-defined]
    return RouteDecision(r["message_id"], r["person_id"], r["round"], r["decided_at"],
                         tuple(Candidate.from_json(c) for c in r["candidates"]),
                         ChannelName(r["channel"]) if r["channel"] else None, r["external_id"], r["outcome"],
                         r["detail"], r["id"])


class SqlRoutes:
    def __init__(self, db: Db) -> None:
        self.db = db

    def record(self, decisions: list[RouteDecision]) -> None:
        for d in decisions:
            self.db.later(_record, {
                "message_id": d.message_id, "person_id": d.person_id, "round": d.round, "decided_at": d.decided_at,
                "channel": d.channel, "external_id": d.account_id, "outcome": d.outcome[:16],
                "detail": d.detail[:2000], "candidates": [c.as_json() for c in d.candidates]})

    async def decisions(self, *, person_id: int | None = None, message_id: int | None = None,
                        message_ids: list[int] | None = None, limit: int = 100) -> list[RouteDecision]:
        await self.db.flush()
        query = select(route_decisions).order_by(route_decisions.c.id.desc()).limit(limit)
        if person_id is not None:
            query = query.where(route_decisions.c.person_id == person_id)
        if message_id is not None:
            query = query.where(route_decisions.c.message_id == message_id)
        if message_ids is not None:
            query = query.where(route_decisions.c.message_id.in_(message_ids))
        return [_decision(row) for row in await self.db.rows(query)]

    async def records(self, person_ids: list[int]) -> dict[int, dict[ChannelName, ChannelRecord]]:
        if not person_ids:
            return {}
        await self.db.flush()
        counts: dict[int, dict[ChannelName, dict[str, int]]] = {}
        for row in await self.db.rows(_outcomes, {"ids": person_ids}):
            mine = counts.setdefault(row.person_id, {}).setdefault(ChannelName(row.channel), {})
            key = "delivered" if row.outcome == "delivered" else "failed"
            mine[key] = mine.get(key, 0) + int(row.n)
        for row in await self.db.rows(_answers, {"ids": person_ids}):
            mine = counts.setdefault(row.person_id, {}).setdefault(ChannelName(row.channel), {})
            mine["asked"], mine["acknowledged"] = int(row.asked), int(row.acked)
        return {person: {channel: ChannelRecord(**values) for channel, values in channels.items()}
                for person, channels in counts.items()}

    async def _upsert(self, person_id: int, now: datetime, **values: object) -> None:
        changed = await self.db.execute(update(channel_preferences).where(
            channel_preferences.c.person_id == person_id).values(updated_at=now, **values))
        if not changed.rowcount:
            await self.db.execute(insert(channel_preferences).values(person_id=person_id, updated_at=now, **values))

    async def prefer(self, person_id: int, channel: ChannelName | None, now: datetime) -> None:
        await self._upsert(person_id, now, channel=channel)

    async def set_time_zone(self, person_id: int, time_zone: str | None, now: datetime) -> None:
        await self._upsert(person_id, now, time_zone=time_zone)

    async def preferences(self, person_ids: list[int]) -> dict[int, Preference]:
        if not person_ids:
            return {}
        await self.db.flush()
        return {row.person_id: Preference(row.person_id, ChannelName(row.channel) if row.channel else None,
                                          row.time_zone, row.updated_at)
                for row in await self.db.rows(_preferences, {"ids": person_ids})}

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        """Decisions keep their channels, points and outcomes; the account ids and addresses in them go."""
        await self.db.flush()
        rows = await self.db.rows(select(route_decisions.c.id, route_decisions.c.detail, route_decisions.c.candidates)
                                  .where(route_decisions.c.person_id == subject.person_id))
        if rows:
            await self.db.execute(_erase, [
                {"id_": row.id, "detail_": blank(row.detail, subject) or "",
                 "candidates_": [Candidate.from_json(c).erased(subject).as_json() for c in row.candidates]}
                for row in rows])
        return len(rows)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        await self.db.flush()
        # the survivor's own preference wins; the absorbed one's is dropped rather than clash on the unique key
        survivor_has = await self.db.first(select(channel_preferences.c.id).where(
            channel_preferences.c.person_id == survivor_id))
        tables = OWNED if survivor_has is None else (route_decisions,)
        return await move_rows(self.db, tables, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)


