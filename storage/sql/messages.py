"""The outbox and the inbound message log in SQL; new outbox rows are written at flush in one statement."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update

from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import InboundEvent, OutgoingMessage
from core.ports.messages import COUNTED_AS_SENT, BroadcastSend, LoggedMessage, OutboxEntry, Outcome, QueuedMessage
from core.ports.person_owned import Moved
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.inbox import workers
from storage.tables.messages import message_log, outbox

OWNED = (outbox, message_log)
_log_in = insert(message_log)
_add = insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)
_done = {"attempts": outbox.c.attempts + 1, "lease_owner": None, "last_error": bindparam("error_")}
_postpone = update(outbox).where(outbox.c.id == bindparam("id_")).values(
    status=MessageStatus.PENDING.value, next_attempt_at=bindparam("retry_at_"), **_done)
_sent = update(outbox).where(outbox.c.id == bindparam("id_")).values(
    status=MessageStatus.SENT.value, sent_at=bindparam("now_"), channel=bindparam("channel_"),
    external_id=bindparam("account_"), **_done)
_ended = update(outbox).where(outbox.c.id == bindparam("id_")).values(status=bindparam("status_"), **_done)


_awaiting = (update(outbox).where(outbox.c.id == bindparam("id_")).values(
    status=MessageStatus.AWAITING_ACK.value, sent_at=bindparam("now_"), channel=bindparam("channel_"),
    external_id=bindparam("account_"), next_attempt_at=bindparam("retry_at_"), round=bindparam("round_"),
    tried=bindparam("tried_"), **_done))
_release = update(outbox).where(outbox.c.id == bindparam("id_")).values(
    status=MessageStatus.PENDING.value, next_attempt_at=bindparam("retry_at_"), lease_owner=None,
    last_error=bindparam("error_"))
_escalation = (update(outbox).where(outbox.c.id == bindparam("id_"))
               .values(round=bindparam("round_"), tried=bindparam("tried_")))
_replied = (update(outbox).where(outbox.c.person_id == bindparam("person_"),
                                 outbox.c.status == MessageStatus.AWAITING_ACK.value)
            .values(status=MessageStatus.ACKNOWLEDGED.value, acked_at=bindparam("now_")))


def _queued(row: Any) -> QueuedMessage:
    return QueuedMessage(row.id, row.person_id, ChannelName(row.channel) if row.channel else None, row.external_id,
                         row.template, dict(row.params), row.locale, row.attempts, row.bulk, row.ack_window_s,
                         row.deadline, row.round, list(row.tried or []), row.broadcast_id)


class SqlMessages:
    def __init__(self, db: Db) -> None:
        self.db = db
        self._new: list[tuple[QueuedMessage, dict[str, Any]]] = []

    async def log_inbound(self, person_id: int, event: InboundEvent, now: datetime) -> None:
        self.db.later(_log_in, {"person_id": person_id, "channel": event.channel, "external_id": event.account_id,
                                "direction": "in", "kind": event.kind.value, "body": event.describe()[:4000],
                                "params": None, "created_at": now})

    async def inbound(self, person_id: int) -> list[LoggedMessage]:
        await self.db.flush()
        rows = await self.db.rows(select(message_log).where(
            message_log.c.person_id == person_id, message_log.c.direction == "in").order_by(message_log.c.id))
        return [LoggedMessage(row.person_id, ChannelName(row.channel), row.external_id, row.kind, row.body,
                              row.created_at) for row in rows]

    def enqueue(self, message: OutgoingMessage, now: datetime, *, owner: str | None = None,
                lease_until: datetime | None = None, not_before: datetime | None = None) -> QueuedMessage:
        queued = QueuedMessage(0, message.person_id, message.channel, message.account_id, message.template,
                               copy.deepcopy(dict(message.params)), message.locale, 0, message.bulk,
                               message.ack_window_seconds, message.deadline, broadcast_id=message.broadcast_id)
        leased = owner is not None
        values = {"person_id": message.person_id, "channel": message.channel, "external_id": message.account_id,
                  "template": message.template, "params": copy.deepcopy(queued.params), "locale": message.locale,
                  "status": (MessageStatus.SENDING if leased else MessageStatus.PENDING).value,
                  "bulk": message.bulk, "attempts": 0, "next_attempt_at": lease_until if leased else not_before or now,
                  "lease_owner": owner, "created_at": now, "ack_window_s": message.ack_window_seconds,
                  "deadline": message.deadline, "round": 0, "tried": None, "broadcast_id": message.broadcast_id}
        if not self._new:
            self.db.after_flush(self._write_new)
        self._new.append((queued, values))
        return queued

    async def _write_new(self) -> None:
        new, self._new = self._new, []
        ids = (await self.db.execute(_add, [values for _, values in new])).scalars().all()
        for (queued, _), message_id in zip(new, ids, strict=True):
            queued.id = message_id

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, alive_since: datetime,
                        limit: int) -> list[QueuedMessage]:
        await self.db.flush()
        alive = select(workers.c.id).where(workers.c.seen_at >= alive_since)
        rows = await self.db.rows(select(outbox).where(or_(
            and_(outbox.c.status.in_((MessageStatus.PENDING.value, MessageStatus.AWAITING_ACK.value)),
                 outbox.c.next_attempt_at <= now),
            and_(outbox.c.status == MessageStatus.SENDING.value,
                 or_(outbox.c.next_attempt_at <= now, outbox.c.lease_owner.is_(None),
                     outbox.c.lease_owner.not_in(alive)))))
            .order_by(outbox.c.bulk, outbox.c.id).limit(limit).with_for_update(skip_locked=True))
        if rows:
            await self.db.execute(update(outbox).where(outbox.c.id.in_([row.id for row in rows])).values(
                status=MessageStatus.SENDING.value, lease_owner=owner, next_attempt_at=lease_until))
        return [_queued(row) for row in rows]

    async def record(self, outcomes: list[Outcome], now: datetime) -> None:
        # written at flush (the commit): the outcomes of a group commit's units go as one executemany each
        postponed, sent, ended, awaiting, escalating, released = [], [], [], [], [], []
        for o in outcomes:
            if o.round is not None and o.status is not MessageStatus.AWAITING_ACK:
                escalating.append({"id_": o.message_id, "round_": o.round, "tried_": list(o.tried or ())})
            if o.status is MessageStatus.AWAITING_ACK:
                awaiting.append({"id_": o.message_id, "now_": now, "channel_": o.channel, "account_": o.account_id,
                                 "retry_at_": o.retry_at or now, "round_": o.round or 0,
                                 "tried_": list(o.tried or ()), "error_": o.error})
            elif o.status is MessageStatus.PENDING and o.paced:
                released.append({"id_": o.message_id, "retry_at_": o.retry_at or now, "error_": o.error})
            elif o.status is MessageStatus.PENDING:
                postponed.append({"id_": o.message_id, "retry_at_": o.retry_at or now, "error_": o.error})
            elif o.status is MessageStatus.SENT:
                sent.append({"id_": o.message_id, "now_": now, "channel_": o.channel, "account_": o.account_id,
                             "error_": o.error})
            else:
                ended.append({"id_": o.message_id, "status_": o.status.value, "error_": o.error})
        for statement, rows in ((_escalation, escalating), (_postpone, postponed), (_sent, sent), (_ended, ended),
                                (_awaiting, awaiting), (_release, released)):
            for row in rows:
                self.db.later(statement, row)

    async def entries(self, person_id: int | None = None, template: str | None = None, *,
                      broadcast_id: int | None = None) -> list[OutboxEntry]:
        await self.db.flush()
        query = select(outbox).order_by(outbox.c.id)
        if person_id is not None:
            query = query.where(outbox.c.person_id == person_id)
        if template is not None:
            query = query.where(outbox.c.template == template)
        if broadcast_id is not None:
            query = query.where(outbox.c.broadcast_id == broadcast_id)
        return [record(OutboxEntry, row, channel=ChannelName(row.channel) if row.channel else None,
                       account_id=row.external_id, status=MessageStatus(row.status), params=dict(row.params))
                for row in await self.db.rows(query)]

    async def broadcast_sends(self, person_ids: list[int], since: datetime) -> dict[int, list[BroadcastSend]]:
        await self.db.flush()
        found: dict[int, list[BroadcastSend]] = {person_id: [] for person_id in person_ids}
        if not person_ids:
            return found
        delivered = and_(outbox.c.status.in_([s.value for s in COUNTED_AS_SENT]), outbox.c.sent_at >= since)
        rows = await self.db.rows(
            select(outbox.c.id, outbox.c.person_id, outbox.c.channel, outbox.c.status, outbox.c.sent_at)
            .where(outbox.c.person_id.in_(bindparam("ids", expanding=True)), outbox.c.broadcast_id.is_not(None),
                   or_(outbox.c.status == MessageStatus.SENDING.value, delivered)), {"ids": person_ids})
        for row in rows:
            sending = row.status == MessageStatus.SENDING.value
            found[row.person_id].append(BroadcastSend(row.id, row.person_id, ChannelName(row.channel) if row.channel
                                                      else None, None if sending else row.sent_at))
        return found

    def note_reply(self, person_id: int, now: datetime) -> None:
        self.db.later(_replied, {"person_": person_id, "now_": now})

    async def acknowledge(self, message_id: int, person_id: int, now: datetime) -> bool:
        await self.db.flush()
        result = await self.db.execute(update(outbox).where(
            outbox.c.id == message_id, outbox.c.person_id == person_id,
            outbox.c.status == MessageStatus.AWAITING_ACK.value).values(
            status=MessageStatus.ACKNOWLEDGED.value, acked_at=now))
        return bool(result.rowcount)

    async def hurry(self, channel: ChannelName, now: datetime) -> int:
        await self.db.flush()
        result = await self.db.execute(update(outbox).where(
            outbox.c.status == MessageStatus.PENDING.value, outbox.c.next_attempt_at > now,
            outbox.c.last_error.startswith(f"{channel}: ", autoescape=True)).values(next_attempt_at=now))
        return int(result.rowcount or 0)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)
