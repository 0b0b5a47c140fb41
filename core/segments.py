"""Who a broadcast can go to: segments that list their people page by page, by person id.

Fixed ones (``registered``, ``pending-receipt``) and parameterised ones, named ``kind:parameter`` so the command
line and the console name them alike: ``participants:CODE`` (an accepted receipt in that campaign),
``entrants:DRAW_ID`` (in the draw's frozen list, or in the list as it would freeze now), ``winners:DRAW_ID``
(won a prize of the draw, reserves not). ``Segments.choices`` lists every concrete one for a picker. Erased and
merged people are in none; the advertising consent is applied on top (``core.broadcasts``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from core.ports import Store, UnitOfWork
from core.ports.broadcasts import Recipient

Query = Callable[[UnitOfWork, int, int], Awaitable[list[Recipient]]]


class BroadcastError(Exception):
    """The broadcast cannot start: an unknown segment (or its campaign or draw) or template, or a parameter the
    template needs is missing."""


class Segment(Protocol):
    name: str
    description: str  # in English, for the command line
    kind: str  # what the console words it by (``segment_<kind>``), with ``subject``
    subject: str

    async def page(self, tx: UnitOfWork, after_id: int, limit: int) -> list[Recipient]:
        """People of the segment with ids above ``after_id``, by id."""
        ...


@dataclass(frozen=True)
class QuerySegment:
    name: str
    description: str
    query: Query
    kind: str = ""
    subject: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.name.replace("-", "_"))

    async def page(self, tx: UnitOfWork, after_id: int, limit: int) -> list[Recipient]:
        return await self.query(tx, after_id, limit)


@dataclass
class ListedSegment:
    """People given as a list of ids (a draw's entrants), read once and then paged."""

    name: str
    description: str
    kind: str
    subject: str
    people: Callable[[UnitOfWork], Awaitable[list[int]]]
    _ids: list[int] | None = field(default=None, repr=False)

    async def page(self, tx: UnitOfWork, after_id: int, limit: int) -> list[Recipient]:
        if self._ids is None:
            self._ids = sorted(set(await self.people(tx)))
        ids, found = [i for i in self._ids if i > after_id], []
        while ids and len(found) < limit:  # erased and merged ones fall out: take more until the page is full
            chunk, ids = ids[:limit - len(found)], ids[limit - len(found):]
            found += await tx.broadcasts.among(chunk)
        return found


def _participants(code: str) -> Query:
    return lambda tx, after, limit: tx.broadcasts.participants(code, after, limit)


def _winners(draw_id: int) -> Query:
    return lambda tx, after, limit: tx.broadcasts.winners(draw_id, after, limit)


async def _entrants(tx: UnitOfWork, draw_id: int) -> list[int]:
    from core.draws.freezing import freeze  # the draws import the broadcasts' neighbours: read when needed

    draw = await tx.draws.get(draw_id)
    if draw.frozen_at is not None or draw.entries_hash is not None:
        return await tx.draws.entrants(draw_id)
    return list((await freeze(tx, draw)).people.values())


class Segments:
    """The segments a broadcast can go to, by name."""

    def __init__(self, segments: list[Segment]) -> None:
        self._by_name = {segment.name: segment for segment in segments}

    def by_name(self) -> list[tuple[str, Segment]]:
        """The fixed segments (``choices`` lists the campaigns' and draws' too)."""
        return sorted(self._by_name.items())

    def find(self, name: str) -> Segment:
        """A fixed segment."""
        segment = self._by_name.get(name)
        if segment is None:
            raise BroadcastError(f"no segment {name!r}; there are: {', '.join(sorted(self._by_name))}")
        return segment

    async def resolve(self, tx: UnitOfWork, name: str) -> Segment:
        """Any segment: a fixed one, or ``kind:parameter`` with its campaign or draw looked up."""
        if name in self._by_name:
            return self._by_name[name]
        kind, _, parameter = name.partition(":")
        if kind == "participants" and parameter:
            campaign = await tx.campaigns.get(parameter)
            if campaign is None:
                raise BroadcastError(f"no campaign {parameter!r}")
            return QuerySegment(name, f"people with an accepted receipt in {campaign.code}",
                                _participants(campaign.code), "participants", campaign.title or campaign.code)
        if kind in ("entrants", "winners") and parameter.isdigit():
            try:
                draw = await tx.draws.get(int(parameter))
            except LookupError:
                raise BroadcastError(f"no draw {parameter}") from None
            subject = f"№{draw.id} {draw.code} ({draw.campaign})"
            if kind == "winners":
                return QuerySegment(name, f"the winners of draw {subject}", _winners(draw.id), kind, subject)
            return ListedSegment(name, f"the entrants of draw {subject}", kind, subject,
                                 lambda tx, draw_id=draw.id: _entrants(tx, draw_id))  # type: ignore[misc]
        raise BroadcastError(f"no segment {name!r}; there are: {', '.join(sorted(self._by_name))}, "
                           "participants:CAMPAIGN, entrants:DRAW_ID, winners:DRAW_ID")

    async def choices(self, store: Store) -> list[Segment]:
        """Every segment a manager can pick now: the fixed ones, each campaign's participants, each draw's
        entrants and (once drawn) winners."""
        chosen: list[Segment] = [segment for _, segment in self.by_name()]
        async with store.transaction() as tx:
            for campaign in await tx.campaigns.all():
                chosen.append(await self.resolve(tx, f"participants:{campaign.code}"))
                for draw in await tx.draws.of_campaign(campaign.code):
                    chosen.append(await self.resolve(tx, f"entrants:{draw.id}"))
                    if draw.drawn_at is not None:
                        chosen.append(await self.resolve(tx, f"winners:{draw.id}"))
        return chosen


def standard_segments() -> Segments:
    return Segments([
        QuerySegment("registered", "everyone registered",
                     lambda tx, after, limit: tx.broadcasts.registered(after, limit)),
        QuerySegment("pending-receipt", "people with a receipt still being checked",
                     lambda tx, after, limit: tx.broadcasts.with_pending_receipt(after, limit)),
    ])
