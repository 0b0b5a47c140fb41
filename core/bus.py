"""The bus: after a transaction commits, the domain events it stored are handed to this process's listeners.

Listeners are quick and synchronous (wake a loop, count something); whatever must happen
exactly once and survive a restart reads the stored events instead, from its own cursor
(``core.event_feed``), and the bus only tells it there is something new. A listener that
raises is logged and does not stop the others, nor the transaction, which is already committed.

``PublishingStore`` wraps the store every part of the platform uses, so whoever commits a unit
of work — the engine, the outbox, the console, a command — publishes its events with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from core.domain_events import DomainEvent, Happened
from core.ports import Store, UnitOfWork

log = logging.getLogger(__name__)

Listener = Callable[[list[DomainEvent]], None]


class Bus:
    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, frozenset[Happened] | None]] = []

    def subscribe(self, listener: Listener, *kinds: Happened) -> None:
        """``listener`` gets, after each commit, the events of these kinds it stored (of every kind when none)."""
        self._listeners.append((listener, frozenset(kinds) or None))

    def publish(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        for listener, kinds in self._listeners:
            chosen = list(events) if kinds is None else [e for e in events if e.kind in kinds]
            if not chosen:
                continue
            try:
                listener(chosen)
            except Exception:  # committed already: one listener's bug costs nothing of the others'
                log.exception("a listener of %d domain events failed", len(chosen))


class PublishingStore:
    """The store, with every committed transaction's domain events handed to the bus."""

    def __init__(self, store: Store, bus: Bus) -> None:
        self.inner = store
        self.bus = bus
        self.kind = store.kind
        self.single_process = store.single_process

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[UnitOfWork]:
        async with self.inner.transaction() as tx:
            yield tx
            stored = tx.events.added
        self.bus.publish(stored)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # anything else the store offers (its database, for tools)
        return getattr(self.inner, name)
