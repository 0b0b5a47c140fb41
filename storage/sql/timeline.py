"""A person's unified timeline in SQL: one bounded, indexed query per source, merged newest first.

A source is a function (db, person, before, limit) -> items; a feature adds its own to ``SOURCES``.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select

from core.ports.draws import DrawStatus
from core.ports.receipts import ReceiptStatus
from core.ports.timeline import TimelineItem, decision_data, draw_entries_data, win_data
from promo.campaign_file import from_mapping
from promo.campaigns import CampaignStatus
from storage.sql.db import Db
from storage.tables.campaigns import campaigns
from storage.tables.draws import draw_winners, draws
from storage.tables.ledger import ledger_entries, ledger_transactions
from storage.tables.messages import message_log, outbox
from storage.tables.people import person_merges
from storage.tables.receipts import receipts
from storage.tables.routing import route_decisions
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


async def draw_entries(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    """One item per draw the person has entries in (not one per entry): their count and share of the whole."""
    counted = (receipts.c.person_id == person_id, receipts.c.status == ReceiptStatus.ACCEPTED.value,
               receipts.c.entries > 0)
    codes = [row[0] for row in await db.rows(select(receipts.c.campaign).where(*counted).distinct())]
    if not codes:
        return []
    items = []
    for row in await db.rows(select(campaigns.c.rules, campaigns.c.status).where(campaigns.c.code.in_(codes))):
        campaign = from_mapping(row.rules, CampaignStatus(row.status))
        for draw in await db.rows(select(draws.c.id, draws.c.code, draws.c.status, draws.c.entries_from,
                                         draws.c.entries_to, draws.c.entries, draws.c.participants, draws.c.drawn_at)
                                  .where(draws.c.campaign == campaign.code,
                                         draws.c.status != DrawStatus.CANCELLED.value)):
            start, end = campaign.days(draw.entries_from, draw.entries_to)
            mine = await db.first(select(func.coalesce(func.sum(receipts.c.entries), 0), func.count(),
                                         func.max(receipts.c.created_at))
                                  .where(*counted, receipts.c.campaign == campaign.code,
                                         receipts.c.issued_at >= start, receipts.c.issued_at < end))
            if mine is None or not mine[0]:
                continue
            at = draw.drawn_at if draw.status == DrawStatus.DRAWN.value and draw.drawn_at else mine[2]
            if before is None or at < before:
                items.append(TimelineItem(at, "draw_entries", draw.id, draw_entries_data(
                    campaign.code, draw.code, draw.status, int(mine[0]), int(mine[1]), int(draw.entries or 0),
                    int(draw.participants or 0))))
    return heapq.nlargest(limit, items, key=lambda item: item.sort_key)


async def wins(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(draw_winners, draws.c.campaign, draws.c.code)
                    .join(draws, draws.c.id == draw_winners.c.draw_id)
                    .where(draw_winners.c.person_id == person_id), draw_winners.c.updated_at, before)
    rows = await db.rows(query.order_by(draw_winners.c.updated_at.desc(), draw_winners.c.id.desc()).limit(limit))
    return [TimelineItem(row.updated_at, "win", row.id, win_data(
        row.campaign, row.code, row.draw_id, row.tier, row.position, row.reserve, row.status, row.deadline))
        for row in rows]


async def route_decisions_of(db: Db, person_id: int, before: datetime | None, limit: int) -> list[TimelineItem]:
    query = _before(select(route_decisions).where(route_decisions.c.person_id == person_id),
                    route_decisions.c.decided_at, before)
    rows = await db.rows(query.order_by(route_decisions.c.decided_at.desc(), route_decisions.c.id.desc())
                         .limit(limit))
    return [TimelineItem(row.decided_at, "route", row.id, decision_data(
        row.message_id, row.round, row.channel, row.outcome, row.detail, row.candidates)) for row in rows]


SOURCES: tuple[Source, ...] = (inbound, outbound, receipts_of, ledger, merges, tickets_of, draw_entries, wins,
                               route_decisions_of)


class SqlTimeline:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def of_person(self, person_id: int, *, before: datetime | None = None,
                        limit: int = 100) -> list[TimelineItem]:
        await self.db.flush()
        limit = max(1, min(limit, 500))
        parts = [await source(self.db, person_id, before, limit) for source in SOURCES]
        return heapq.nlargest(limit, (item for part in parts for item in part), key=lambda item: item.sort_key)
