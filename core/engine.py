"""Applies one inbound event in one unit of work: who sent it, what it does, what to say back.

Per event: skip an update already applied (the inbox row is finished in the same unit of
work, or the update id is claimed), recognise the account (creating a person at first
contact), let the dispatcher run the scenarios, then persist states and replies together.
Units of work of different people share commits (``GroupCommit``); a concurrent writer
(a unique key, a row version) makes the event run again. Any other failure is a bug: it is
logged once and the person gets an apology instead of silence, and a stored update is kept as
dead (``tx.inbox.bury``) for staff to retry once the bug is fixed. An update the intake gave up
on (``give_up``) is set aside the same way, and its sender asked to send it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from core.channels import ChannelName
from core.context import Context
from core.delivery import DELIVERY_LEASE
from core.dispatch import Dispatcher
from core.domain_events import DomainEvent
from core.errors import ConflictError
from core.events import InboundEvent, OutgoingMessage
from core.group_commit import GroupCommit
from core.identity import ChannelAccount, Person
from core.machine import Catalog
from core.ports import QueuedMessage, Store, UnitOfWork
from core.ports.timers import Timer
from core.queueing import enqueue
from core.services import Services
from core.settings import Settings
from core.triggers import Background, happened_event, timer_event

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
Deliver = Callable[[list[QueuedMessage]], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(self, store: Store, catalog: Catalog, services: Services, settings: Settings, *,
                 clock: Callable[[], datetime] = utc_now, committer: GroupCommit | None = None,
                 deliver: Deliver | None = None, worker_id: str | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.services = services
        self.settings = settings
        self.clock = clock
        self.committer = committer or GroupCommit(store)
        self.deliver = deliver  # who sends the replies right after they are committed (the outbox)
        self.worker_id = worker_id
        self.dispatcher = Dispatcher(catalog)
        self.background = Background(catalog, self.dispatcher, settings, services)

    async def handle(self, event: InboundEvent) -> list[OutgoingMessage]:
        """Apply one event exactly once; the replies it produced (already in the outbox)."""
        event = await self.services.photos.read(event)  # before the transaction: it takes a while
        try:
            queued = await self._with_retries(event, self._apply)
        except Exception as e:
            log.exception("event %s from %s/%s failed", event.update_id or event.inbox_id, event.channel,
                          event.account_id)
            error = repr(e)[:500]
            queued = await self._retrying(lambda tx, now: self._apologise(tx, event, now, error))
        if queued and self.deliver is not None:
            self.deliver(queued)
        return [OutgoingMessage(q.person_id, q.template, q.params, q.locale, q.channel, q.account_id, q.bulk)
                for q in queued]

    async def _with_retries(self, event: InboundEvent, step: Callable[..., object]) -> list[QueuedMessage]:
        return await self._retrying(lambda tx, now: step(tx, event, now))

    async def _claim(self, tx: UnitOfWork, event: InboundEvent, now: datetime) -> bool:
        """False when this update was applied already (a redelivery, or another worker was first)."""
        if event.inbox_id is not None:
            return await tx.inbox.finish(event.inbox_id, now)
        if event.update_id is not None:
            return await tx.inbox.claim_update(event.channel, event.update_id, now)
        return True

    async def _identify(self, tx: UnitOfWork, event: InboundEvent, now: datetime) -> tuple[Person, ChannelAccount]:
        found = await tx.people.find_by_account(event.channel, event.account_id)
        if found is None:
            person = await tx.people.create(self._locale_for(event.locale_hint), now)
            account = await tx.people.add_account(person.id, event.channel, event.account_id,
                                                  event.display_name, now)
        else:
            account, person = found
        account.last_seen_at = now
        account.unreachable_since = None  # they just wrote to us, so the channel works
        if event.display_name:
            account.display_name = event.display_name
        await tx.people.touch_account(account)
        await tx.messages.log_inbound(person.id, event, now)
        tx.messages.note_reply(person.id, now)  # a reply answers whatever awaited one (a winner notice)
        return person, account

    def _locale_for(self, hint: str | None) -> str:
        language = (hint or "").split("-")[0].lower()
        return language if language in self.settings.locales else self.settings.locale

    # a timer, a domain event: steps with a person and no message ------------------------------

    async def fire(self, timer: Timer) -> list[QueuedMessage]:
        """Fire a due timer once: marked fired in the same unit of work as the step it makes (a second worker that
        claimed it too finds it fired and does nothing)."""
        async def step(tx: UnitOfWork, now: datetime) -> list[QueuedMessage]:
            if not await tx.timers.fire(timer.id, now):
                return []
            event = timer_event(timer)
            ctx = await self.background.step(tx, timer.person_id, event, [timer.scenario], now)
            return self._queue(tx, event, ctx.replies, now) if ctx is not None else []

        queued = await self._retrying(step)
        if queued and self.deliver is not None:
            self.deliver(queued)
        return queued

    async def apply_happened(self, tx: UnitOfWork, happened: DomainEvent, now: datetime) -> list[QueuedMessage]:
        """Step the machines that wait for (or start on) this event of the person, in the caller's unit of work
        (the event feed's, which moves its position in it too); the notices are queued, not leased."""
        scenarios = self.background.scenarios_for(happened)
        if happened.person_id is None or not scenarios:
            return []
        event = happened_event(happened)
        ctx = await self.background.step(tx, happened.person_id, event, scenarios, now)
        return [enqueue(tx, reply, now) for reply in ctx.replies] if ctx is not None else []

    async def _retrying(self, step: Callable[[UnitOfWork, datetime], object]) -> list[QueuedMessage]:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self.committer.run(lambda tx: step(tx, self.clock()))  # type: ignore[arg-type]
            except ConflictError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")

    def _queue(self, tx: UnitOfWork, event: InboundEvent, replies: list[OutgoingMessage],
               now: datetime) -> list[QueuedMessage]:
        return [self._leased(tx, reply, now, reply.channel == event.channel and reply.account_id == event.account_id)
                for reply in replies]

    def _leased(self, tx: UnitOfWork, message: OutgoingMessage, now: datetime, answers: bool) -> QueuedMessage:
        """Leased to this worker, which sends it as soon as the unit commits (the outbox need not look)."""
        owner = self.worker_id if self.deliver is not None else None
        lease_until = now + DELIVERY_LEASE if owner is not None else None
        return enqueue(tx, message, now, owner=owner, lease_until=lease_until, reply=answers)

    async def _apply(self, tx: UnitOfWork, event: InboundEvent, now: datetime) -> list[QueuedMessage]:
        if not await self._claim(tx, event, now):
            return []
        person, account = await self._identify(tx, event, now)
        states = await tx.states.load(person.id)
        active = next((s for s in states.values() if s.active), None)
        ctx = Context(event, person, account, tx, now, self.settings, self.services, self.dispatcher, states,
                      current=active)
        await self.dispatcher.route(ctx)
        if ctx.current is not None and ctx.current.active:
            ctx.touch(ctx.current)  # every step bumps the version, so racing steps conflict
        for state in ctx.touched:
            await tx.states.save(state, now)
        return self._queue(tx, event, ctx.replies, now)

    async def _apologise(self, tx: UnitOfWork, event: InboundEvent, now: datetime,
                         error: str) -> list[QueuedMessage]:
        """The step crashed and was rolled back: set the update aside (dead, not retried by itself), and say so."""
        claimed = (await tx.inbox.bury(event.inbox_id, error, now) if event.inbox_id is not None
                   else await self._claim(tx, event, now))
        if not claimed:
            return []
        person, _ = await self._identify(tx, event, now)
        reply = OutgoingMessage(person.id, "common.error", {}, person.locale, event.channel, event.account_id)
        return self._queue(tx, event, [reply], now)

    # an update nobody could read ---------------------------------------------------------------

    async def give_up(self, inbox_id: int, error: str, sender: tuple[ChannelName, str] | None) -> bool:
        """Set a stored update aside as dead, with its error, and ask its sender (when known) to send it again;
        False when it was processed or set aside already. Should telling them fail too (the account itself
        cannot be stored), the update is still set aside: staff see it, whatever its sender was told."""
        buried = False

        async def bury_and_tell(tx: UnitOfWork, now: datetime) -> list[QueuedMessage]:
            nonlocal buried
            buried = await tx.inbox.bury(inbox_id, error, now)
            if not buried or sender is None:
                return []
            channel, account_id = sender
            found = await tx.people.find_by_account(channel, account_id)
            if found is None:  # their first message: a person as at any first contact, so the answer has an address
                person = await tx.people.create(self.settings.locale, now)
                await tx.people.add_account(person.id, channel, account_id, "", now)
            else:
                person = found[1]
            reply = OutgoingMessage(person.id, "common.unreadable", {}, person.locale, channel, account_id)
            return [self._leased(tx, reply, now, answers=True)]

        async def bury_only(tx: UnitOfWork, now: datetime) -> list[QueuedMessage]:
            nonlocal buried
            buried = await tx.inbox.bury(inbox_id, error, now)
            return []

        try:
            queued = await self._retrying(bury_and_tell)
        except Exception:
            log.exception("the sender of dead update %s could not be told; it is set aside all the same", inbox_id)
            queued = await self._retrying(bury_only)
        if queued and self.deliver is not None:
            self.deliver(queued)
        return buried
