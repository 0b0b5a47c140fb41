"""Broadcasts: one template to a segment of people, queued as bulk notices, and the report of what became of them.

Segments (``core.segments``) list their people page by page: everyone registered, a campaign's participants, a
draw's entrants or winners, … The platform builds its ``Segments`` once and hands them to the console and the
command line. A broadcast is advertising or not, as the manager says: the advertising consent
(``core.advertising``) keeps out of every segment the people no channel of theirs may carry it to, and the
delivery gate rules on each channel when it goes. ``preview`` is what the confirmation shows: how many people,
how many of them have already had as many broadcasts as the frequency caps allow, and the text in each of their
languages. Notices are queued in pages, each page in its own transaction, so a
broadcast to a million people never holds one long transaction, and replies to people who are chatting still
go first (bulk).
"""

from __future__ import annotations

import asyncio
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.advertising import wanted
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from core.gates import Reason
from core.gates.caps import FrequencyCaps, at_cap
from core.ports import Store
from core.ports.broadcasts import Broadcast, Recipient
from core.ports.messages import COUNTED_AS_SENT
from core.queueing import enqueue
from core.segments import BroadcastError, QuerySegment, Segment, Segments, standard_segments
from core.templates import Templates, texts_of

__all__ = ["BroadcastError", "QuerySegment", "Segment", "Segments", "standard_segments"]

PAGE = 1000
MAX_SPREAD = timedelta(hours=72)  # a broadcast spread longer is better sent as two
PREVIEW = ChannelProfile(ChannelName("preview"), "preview", TextFormat.PLAIN, max_text=4096)


def needed_params(templates: Templates, key: str) -> set[str]:
    """The ``{param}`` names a template's texts use (the labels' too)."""
    texts = texts_of(templates.entries[key])
    texts += [v for row in templates.button_specs(key) for b in row for v in b.values() if isinstance(v, str)]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def check_template(templates: Templates, template: str, params: dict[str, Any]) -> None:
    if template not in templates.entries:
        raise BroadcastError(f"no template {template!r}")
    needed = needed_params(templates, template) - {"message_id", "name", "rules_url"}
    missing = sorted(needed - set(params))
    if missing:
        raise BroadcastError(f"template {template!r} needs --param {missing[0]}=…")


async def recipients(store: Store, segment: Segment, *, advertising: bool = False) -> int:
    """How many people a broadcast to the segment would reach now: counted page by page, as ``start`` queues."""
    return sum((await _languages(store, segment, advertising)).values())


async def _languages(store: Store, segment: Segment, advertising: bool) -> Counter[str]:
    return (await _count(store, segment, advertising))[0]


async def _count(store: Store, segment: Segment, advertising: bool, capping: Capping | None = None,
                 ) -> tuple[Counter[str], int]:
    """The people by language, and how many of them are at a frequency cap now."""
    after, counted, capped = 0, Counter[str](), 0
    while True:
        async with store.transaction() as tx:
            page = await segment.page(tx, after, PAGE)
            kept = await wanted(tx, page, advertising)
            if capping is not None:
                capped += len(await at_cap(tx, [r.person_id for r in kept], capping.caps, capping.now,
                                           capping.zone))
        counted.update(r.locale for r in kept)
        if len(page) < PAGE:
            return counted, capped
        after = page[-1].person_id
        await asyncio.sleep(0)  # inside the platform (the console), SQLite runs inline: let replies through


@dataclass(frozen=True)
class Capping:
    """The frequency caps a preview counts against, at this moment, in this zone for people who set none."""

    caps: FrequencyCaps
    now: datetime
    zone: ZoneInfo


@dataclass(frozen=True)
class Preview:
    """What the confirmation shows: how many people it would reach now, and the text each language reads."""

    people: int
    by_locale: dict[str, int]
    texts: dict[str, str]  # locale -> the rendered text (plain: as the plainest channel shows it)
    # of ``people``, those already at a cap across channels: sent now, theirs would end ``capped``
    at_cap: int = 0
    caps: str = "off"


async def preview(store: Store, templates: Templates, template: str, params: dict[str, Any], segment: Segment,
                  *, advertising: bool = False, capping: Capping | None = None) -> Preview:
    check_template(templates, template, params)
    languages, capped = await _count(store, segment, advertising, capping)
    shown = sorted(languages) or [templates.default_locale]
    filled = {"message_id": "", "name": "", "rules_url": "", **params}
    texts = {locale: templates.render(template, PREVIEW, locale, filled).text for locale in shown}
    caps = str(FrequencyCaps(capping.caps.across)) if capping is not None else "off"
    return Preview(sum(languages.values()), dict(sorted(languages.items())), texts, capped, caps)


async def start(store: Store, templates: Templates, template: str, params: dict[str, Any], segment: Segment,
                now: datetime, *, answer_within: timedelta | None = None, deadline: datetime | None = None,
                advertising: bool = False, spread: timedelta | None = None,
                progress: Callable[[int], None] = lambda queued: None) -> Broadcast:
    """Queue the notices, page by page; the platform's outbox sends them (bulk: replies go first). With ``spread``,
    the notices go evenly over that much time from now rather than at once (each still waits out quiet hours)."""
    check_template(templates, template, params)
    if spread is not None and not timedelta(0) <= spread <= MAX_SPREAD:
        raise BroadcastError(f"a broadcast can be spread over up to {MAX_SPREAD.days * 24} hours")
    expected = await recipients(store, segment, advertising=advertising) if spread else 0
    async with store.transaction() as tx:
        broadcast = await tx.broadcasts.create(template, params, segment.name, now, advertising=advertising)
    after, queued = 0, 0
    window = int(answer_within.total_seconds()) if answer_within else None
    while True:
        async with store.transaction() as tx:
            page = await segment.page(tx, after, PAGE)
            kept: list[Recipient] = await wanted(tx, page, advertising)
            for index, recipient in enumerate(kept, start=queued):
                # the i-th of the people counted goes i/n of the way through; any who joined since, at its end
                due = now + spread * min(index / expected, 1.0) if spread and expected else None
                enqueue(tx, OutgoingMessage(recipient.person_id, template, dict(params), recipient.locale,
                                            bulk=True, ack_window_seconds=window, deadline=deadline,
                                            broadcast_id=broadcast.id), now, not_before=due)
            queued += len(kept)
            await tx.broadcasts.set_people(broadcast.id, queued)
        progress(len(kept))
        if len(page) < PAGE:
            break
        after = page[-1].person_id
        await asyncio.sleep(0)  # as in ``recipients``: other people's replies go between pages
    return Broadcast(broadcast.id, template, params, segment.name, broadcast.created_at, queued, advertising)


@dataclass
class Report:
    broadcast: Broadcast
    by_status: Counter[str] = field(default_factory=Counter)
    delivered_by_channel: Counter[str] = field(default_factory=Counter)
    fallbacks: int = 0  # delivered, but not on the first channel tried (or on a later round)
    past_down_channels: Counter[str] = field(default_factory=Counter)  # delivered elsewhere: this channel was down
    failures: Counter[str] = field(default_factory=Counter)  # reason -> how many

    @property
    def settled(self) -> int:
        return sum(n for status, n in self.by_status.items() if MessageStatus(status).is_final)

    @property
    def done(self) -> bool:
        return self.settled >= self.broadcast.people


DELIVERED = COUNTED_AS_SENT


async def report(store: Store, broadcast_id: int) -> Report | None:
    async with store.transaction() as tx:
        broadcast = await tx.broadcasts.get(broadcast_id)
        if broadcast is None:
            return None
        entries = await tx.messages.entries(broadcast_id=broadcast_id)
        result = Report(broadcast)
        for entry in entries:
            result.by_status[entry.status.value] += 1
            if entry.status in DELIVERED and entry.channel:
                result.delivered_by_channel[entry.channel] += 1
            elif entry.status.is_final:
                result.failures[_reason(entry.last_error, entry.status)] += 1
        ids = [e.id for e in entries if e.status in DELIVERED]
        for start_at in range(0, len(ids), PAGE):
            chunk = ids[start_at:start_at + PAGE]
            for decision in await tx.routes.decisions(message_ids=chunk, limit=len(chunk) * 10):
                tried_before = any(c.outcome and not c.outcome.startswith("delivered") for c in decision.candidates)
                if decision.outcome != "delivered":
                    continue
                if tried_before or decision.round > 0:
                    result.fallbacks += 1
                for candidate in decision.candidates:
                    if (candidate.dropped or "").startswith(Reason.CHANNEL_DOWN.value):
                        result.past_down_channels[candidate.channel] += 1
    return result


def _reason(error: str | None, status: MessageStatus) -> str:
    """A failure's reason without what differs per person (addresses, ids), so alike failures count together."""
    if not error:
        return status.value
    parts = [part.split(":", 1)[0].strip() + ": " + part.split(":", 1)[1].strip().split(" (since")[0]
             if ":" in part else part.strip() for part in error.split(";")]
    return f"{status.value}: " + "; ".join(sorted(set(parts)))[:160]
