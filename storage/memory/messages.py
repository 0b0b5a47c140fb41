"""The outbox and the log of what people sent, in memory."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import InboundEvent, OutgoingMessage
from core.ports.messages import COUNTED_AS_SENT, BroadcastSend, LoggedMessage, OutboxEntry, Outcome, QueuedMessage
from core.ports.person_owned import Moved
from storage.memory.table import Table, json_copy, reassign_rows, restore_rows, utc
from storage.memory.workers import Workers

LOGGED_BODY_LENGTH = 4000


@dataclass(frozen=True)
class OutboxRow:
    id: int
    person_id: int
    channel: ChannelName | None
    account_id: str | None
    template: str
    params: dict[str, Any]
    locale: str
    bulk: bool
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    owner: str | None = None
    leased_until: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    ack_window_seconds: int | None = None
    deadline: datetime | None = None
    acked_at: datetime | None = None
    round: int = 0
    tried: tuple[str, ...] = ()
    broadcast_id: int | None = None

    def queued(self) -> QueuedMessage:
        return QueuedMessage(self.id, self.person_id, self.channel, self.account_id, self.template,
                             json_copy(self.params), self.locale, self.attempts, self.bulk, self.ack_window_seconds,
                             self.deadline, self.round, list(self.tried), self.broadcast_id)

    def entry(self) -> OutboxEntry:
        return OutboxEntry(self.id, self.person_id, self.channel, self.account_id, self.template,
                           json_copy(self.params), self.status, self.attempts, self.created_at, self.sent_at,
                           self.last_error, self.acked_at, self.deadline, self.round, self.broadcast_id)


@dataclass(frozen=True)
class LogRow:
    id: int
    person_id: int
    channel: ChannelName
    account_id: str
    kind: str
    body: str
    created_at: datetime

    def record(self) -> LoggedMessage:
        return LoggedMessage(self.person_id, self.channel, self.account_id, self.kind, self.body, self.created_at)


class MessageTables:
    def __init__(self) -> None:
        self.outbox: Table[int, OutboxRow] = Table("outbox")
        self.log: Table[int, LogRow] = Table("message_log")

    def all(self) -> list[Table]:
        return [self.outbox, self.log]


class MemoryMessages:
    def __init__(self, tables: MessageTables, workers: Workers, persons: Table) -> None:
        self._t = tables
        self._workers = workers
        self._persons = persons

    async def log_inbound(self, person_id: int, event: InboundEvent, now: datetime) -> None:
        self._persons.one(person_id)
        row = LogRow(self._t.log.next_id(), person_id, event.channel, event.account_id, str(event.kind.value),
                     event.describe()[:LOGGED_BODY_LENGTH], utc(now))
        self._t.log.put(row.id, row)

    async def inbound(self, person_id: int) -> list[LoggedMessage]:
        return [row.record() for row in sorted(self._t.log.where(lambda r: r.person_id == person_id),
                                               key=lambda r: r.id)]

    def enqueue(self, message: OutgoingMessage, now: datetime, *, owner: str | None = None,
                lease_until: datetime | None = None, not_before: datetime | None = None) -> QueuedMessage:
        self._persons.one(message.person_id)
        row = OutboxRow(
            id=self._t.outbox.next_id(), person_id=message.person_id, channel=message.channel,
            account_id=message.account_id, template=message.template, params=json_copy(message.params),
            locale=message.locale, bulk=message.bulk,
            status=MessageStatus.SENDING if owner is not None else MessageStatus.PENDING, attempts=0,
            next_attempt_at=utc(not_before or now), created_at=utc(now), owner=owner,
            leased_until=utc(lease_until) if owner is not None else None,
            ack_window_seconds=message.ack_window_seconds, deadline=utc(message.deadline),
            broadcast_id=message.broadcast_id)
        return self._t.outbox.put(row.id, row).queued()

    def _claimable(self, row: OutboxRow, now: datetime, alive_since: datetime) -> bool:
        if row.status in (MessageStatus.PENDING, MessageStatus.AWAITING_ACK):
            return row.next_attempt_at <= now
        if row.status == MessageStatus.SENDING:
            expired = row.leased_until is not None and row.leased_until <= now
            return expired or row.owner is None or not self._workers.alive(row.owner, alive_since)
        return False

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, alive_since: datetime,
                        limit: int) -> list[QueuedMessage]:
        due = sorted(self._t.outbox.where(lambda r: self._claimable(r, now, alive_since)),
                     key=lambda r: (r.bulk, r.id))[:limit]
        return [self._t.outbox.put(r.id, replace(r, status=MessageStatus.SENDING, owner=owner,
                                                 leased_until=utc(lease_until))).queued() for r in due]

    async def record(self, outcomes: list[Outcome], now: datetime) -> None:
        for outcome in outcomes:
            row = self._t.outbox.one(outcome.message_id)
            status = MessageStatus(outcome.status)
            row = replace(row, status=status, attempts=row.attempts + (0 if outcome.paced else 1), owner=None,
                          leased_until=None, last_error=outcome.error)
            if outcome.round is not None:
                row = replace(row, round=outcome.round, tried=tuple(outcome.tried or ()))
            if status in (MessageStatus.PENDING, MessageStatus.AWAITING_ACK):
                row = replace(row, next_attempt_at=utc(outcome.retry_at or now))
            if status in (MessageStatus.SENT, MessageStatus.AWAITING_ACK):
                row = replace(row, sent_at=utc(now), channel=outcome.channel, account_id=outcome.account_id)
            self._t.outbox.put(row.id, row)

    async def entries(self, person_id: int | None = None, template: str | None = None, *,
                      broadcast_id: int | None = None) -> list[OutboxEntry]:
        rows = self._t.outbox.where(lambda r: (person_id is None or r.person_id == person_id)
                                    and (template is None or r.template == template)
                                    and (broadcast_id is None or r.broadcast_id == broadcast_id))
        return [row.entry() for row in sorted(rows, key=lambda r: r.id)]

    async def broadcast_sends(self, person_ids: list[int], since: datetime) -> dict[int, list[BroadcastSend]]:
        wanted = set(person_ids)
        found: dict[int, list[BroadcastSend]] = {person_id: [] for person_id in person_ids}
        for row in self._t.outbox.where(lambda r: r.person_id in wanted and r.broadcast_id is not None):
            if row.status == MessageStatus.SENDING:
                found[row.person_id].append(BroadcastSend(row.id, row.person_id, row.channel, None))
            elif row.status in COUNTED_AS_SENT and row.sent_at is not None and row.sent_at >= since:
                found[row.person_id].append(BroadcastSend(row.id, row.person_id, row.channel, row.sent_at))
        return found

    def note_reply(self, person_id: int, now: datetime) -> None:
        for row in self._t.outbox.where(lambda r: r.person_id == person_id
                                        and r.status == MessageStatus.AWAITING_ACK):
            self._t.outbox.put(row.id, replace(row, status=MessageStatus.ACKNOWLEDGED, acked_at=utc(now)))

    async def acknowledge(self, message_id: int, person_id: int, now: datetime) -> bool:
        row = self._t.outbox.get(message_id)
        if row is None or row.person_id != person_id or row.status != MessageStatus.AWAITING_ACK:
            return False
        self._t.outbox.put(row.id, replace(row, status=MessageStatus.ACKNOWLEDGED, acked_at=utc(now)))
        return True

    async def hurry(self, channel: ChannelName, now: datetime) -> int:
        waiting = self._t.outbox.where(lambda r: r.status == MessageStatus.PENDING and r.next_attempt_at > now
                                       and (r.last_error or "").startswith(f"{channel}: "))
        for row in waiting:
            self._t.outbox.put(row.id, replace(row, next_attempt_at=utc(now)))
        return len(waiting)

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._persons.one(survivor_id)
        return reassign_rows(self._t.all(), absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._persons.one(person_id)
        return restore_rows(self._t.all(), moved, person_id)
