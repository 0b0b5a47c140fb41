"""A person's unified timeline in SQL: one bounded, indexed query per source, merged newest first.

A source is a function (db, person, before, limit) -> items; a feature adds its own to ``SOURCES``.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select

from core.ports.timeline import TimelineItem
from storage.sql.db import Db
from storage.tables.ledger import ledger_entries, ledger_transactions
from storage.tables.messages import message_log, outbox
from storage.tables.people import person_merges
from storage.tables.receipts import receipts
from storage.tables.support import ticket_events

Source = Callable[[Db, int, datetime | None, int], Awaitable[list[TimelineItem]]]


def _before(query: Select[Any], column: Any, before: datetime | None) -> Select[Any]:
    return query if before is None else query.where(column < before)


async def inbound(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(message_log).where(message_log.c.person_id == person_id, message_log.c.direction == "in"),
                    message_log.c.created_at, before)
    rows = await db.rows(query.order_by(message_log.c.created_at.desc(), message_log.c.id.desc()).limit(limit))
    return [TimelineItem(row.created_at, "inbound", row.id, {
        "channel": row.channel, "account": row.external_id, "kind": row.kind, "body": row.body}) for row in rows]


async def outbound(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(outbox.c.id, outbox.c.channel, outbox.c.external_id, outbox.c.template, outbox.c.params,
                           outbox.c.locale, outbox.c.status, outbox.c.last_error, outbox.c.created_at,
                           outbox.c.sent_at).where(outbox.c.person_id == person_id), outbox.c.created_at, before)
    rows = await db.rows(query.order_by(outbox.c.created_at.desc(), outbox.c.id.desc()).limit(limit))
    return [TimelineItem(row.created_at, "outbound", row.id, {
        "channel": row.channel, "account": row.external_id, "template": row.template, "params": dict(row.params),
        "locale": row.locale, "status": row.status, "error": row.last_error, "sent_at": row.sent_at})
        for row in rows]


async def receipts_of(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(receipts).where(receipts.c.person_id == person_id), receipts.c.created_at, before)
    rows = await db.rows(query.order_by(receipts.c.created_at.desc(), receipts.c.id.desc()).limit(limit))
    return [TimelineItem(row.created_at, "receipt", row.id, {
        "status": row.status, "sum": row.sum_kopecks, "cashback": row.cashback_kopecks, "entries": row.entries,
        "source": row.source, "photo": row.photo_sha256, "campaign": row.campaign}) for row in rows]


async def ledger(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(ledger_entries.c.id, ledger_entries.c.account, ledger_entries.c.amount_kopecks,
                           ledger_transactions.c.kind, ledger_transactions.c.receipt_id,
                           ledger_transactions.c.payout_id, ledger_transactions.c.created_at)
                    .join(ledger_transactions, ledger_transactions.c.id == ledger_entries.c.transaction_id)
                    .where(ledger_entries.c.person_id == person_id), ledger_transactions.c.created_at, before)
    rows = await db.rows(query.order_by(ledger_transactions.c.created_at.desc(), ledger_entries.c.id.desc())
                         .limit(limit))
    return [TimelineItem(row.created_at, "ledger", row.id, {
        "kind": row.kind, "account": row.account, "amount": row.amount_kopecks, "receipt_id": row.receipt_id,
        "payout_id": row.payout_id}) for row in rows]


async def merges(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(person_merges).where(or_(person_merges.c.survivor_id == person_id,
                                                    person_merges.c.absorbed_id == person_id)),
                    person_merges.c.merged_at, before)
    rows = await db.rows(query.order_by(person_merges.c.merged_at.desc()).limit(limit))
    return [TimelineItem(row.merged_at, "merge", row.id, {
        "survivor": row.survivor_id, "absorbed": row.absorbed_id, "reason": row.reason, "moved": dict(row.moved)})
        for row in rows]


async def tickets_of(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(ticket_events).where(ticket_events.c.person_id == person_id),
                    ticket_events.c.created_at, before)
    rows = await db.rows(query.order_by(ticket_events.c.created_at.desc(), ticket_events.c.id.desc()).limit(limit))
    return [TimelineItem(row.created_at, "ticket", row.id, {
        "ticket": row.ticket_id, "kind": row.kind, "body": row.body, "staff": row.staff_id,
        "photo": row.photo_sha256}) for row in rows]


SOURCES: tuple[Source, ...] = (inbound, outbound, receipts_of, ledger, merges, tickets_of)


class SqlTimeline:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def of_person(self, person_id: int, *, before: datetime | None = None,
                        limit: int = 100) -> list[TimelineItem]:
        await self.db.flush()
        limit = max(1, min(limit, 500))
        parts = [await source(self.db, person_id, before, limit) for source in SOURCES]
        return heapq.nlargest(limit, (item for part in parts for item in part), key=lambda item: item.sort_key)
