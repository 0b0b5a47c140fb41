"""A person's unified timeline, in memory: the same sources as SQL, read from the memory tables."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.ports.draws import DrawStatus
from core.ports.receipts import ReceiptStatus
from core.ports.timeline import TimelineItem, decision_data, draw_entries_data, win_data
from storage.memory.campaigns import _campaign

if TYPE_CHECKING:
    from storage.memory import MemoryTables


class MemoryTimeline:
    def __init__(self, tables: MemoryTables) -> None:
        self._t = tables

    def _items(self, person_id: int) -> list[TimelineItem]:
        t = self._t
        items = [TimelineItem(r.created_at, "inbound", r.id, {"channel": r.channel, "account": r.account_id,
                                                                "kind": r.kind, "body": r.body})
                 for r in t.messages.log.where(lambda r: r.person_id == person_id)]
        items += [TimelineItem(r.created_at, "outbound", r.id, {
            "channel": r.channel, "account": r.account_id, "template": r.template, "params": dict(r.params),
            "locale": r.locale, "status": r.status.value, "error": r.last_error, "sent_at": r.sent_at})
            for r in t.messages.outbox.where(lambda r: r.person_id == person_id)]
        items += [TimelineItem(r.created_at, "receipt", r.id, {
            "status": r.status.value, "sum": r.sum_kopecks, "cashback": r.cashback_kopecks, "entries": r.entries,
            "source": r.source, "photo": r.photo_sha256, "campaign": r.campaign})
            for r in t.receipts.receipts.where(lambda r: r.person_id == person_id)]
        for entry in t.ledger.entries.where(lambda e: e.person_id == person_id):
            transaction = t.ledger.transactions.one(entry.transaction_id)
            items.append(TimelineItem(transaction.created_at, "ledger", entry.id, {
                "kind": transaction.kind, "account": entry.account.value, "amount": entry.amount_kopecks,
                "receipt_id": transaction.receipt_id, "payout_id": transaction.payout_id}))
        items += [TimelineItem(m.merged_at, "merge", m.id, {
            "survivor": m.survivor_id, "absorbed": m.absorbed_id, "reason": m.reason,
            "moved": {table: len(ids) for table, ids in m.moved.items()}})
            for m in t.people.merges.where(lambda m: person_id in (m.survivor_id, m.absorbed_id))]
        items += [TimelineItem(e.created_at, "ticket", e.id, {"ticket": e.ticket_id, "kind": e.kind.value,
                                                               "body": e.body, "staff": e.staff_id,
                                                               "photo": e.photo_sha256})
                  for e in t.tickets.events.where(lambda e: e.person_id == person_id)]
        items += self._draw_entries(person_id)
        for w in t.draws.winners.where(lambda w: w.person_id == person_id):
            draw = t.draws.draws.one(w.draw_id)
            items.append(TimelineItem(w.updated_at, "win", w.id, win_data(
                draw.campaign, draw.code, draw.id, w.tier, w.position, w.reserve, w.status.value, w.deadline)))
        items += [TimelineItem(r.decision.decided_at, "route", r.id, decision_data(
            r.decision.message_id, r.decision.round, r.decision.channel, r.decision.outcome, r.decision.detail,
            [c.as_json() for c in r.decision.candidates]))
            for r in t.routes.decisions.where(lambda r: r.person_id == person_id)]
        return items

    def _draw_entries(self, person_id: int) -> list[TimelineItem]:
        t = self._t
        counted = [r for r in t.receipts.receipts.where(lambda r: r.person_id == person_id)
                   if r.status == ReceiptStatus.ACCEPTED and r.entries > 0]
        items = []
        for code in sorted({r.campaign for r in counted}):
            row = t.campaigns.campaigns.get(code)
            if row is None:
                continue
            campaign = _campaign(row)
            for draw in [d for d in t.draws.draws.rows()
                         if d.campaign == code and d.status is not DrawStatus.CANCELLED]:
                start, end = campaign.days(draw.entries_from, draw.entries_to)
                mine = [r for r in counted if r.campaign == code and start <= r.issued_at < end]
                if not mine:
                    continue
                drawn = draw.status is DrawStatus.DRAWN and draw.drawn_at is not None
                at = draw.drawn_at if drawn else max(r.created_at for r in mine)
                items.append(TimelineItem(at, "draw_entries", draw.id, draw_entries_data(  # type: ignore[arg-type]
                    code, draw.code, draw.status.value, sum(r.entries for r in mine), len(mine), draw.entries,
                    draw.participants)))
        return items

    async def of_person(self, person_id: int, *, before: datetime | None = None,
                        limit: int = 100) -> list[TimelineItem]:
        items: list[Any] = [i for i in self._items(person_id) if before is None or i.at < before]
        return heapq.nlargest(max(1, min(limit, 500)), items, key=lambda item: item.sort_key)
