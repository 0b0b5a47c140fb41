"""Runs declared scenarios: one inbound event -> one transaction -> replies in the outbox.

Per event: recognise the account (creating a person at first contact), skip an
update already applied, route the event (global commands, the active scenario,
or a scenario the event starts), then persist states, replies and the update id
together. Concurrent writers are detected by row versions and retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from core.context import Context
from core.delivery import DELIVERY_LEASE
from core.errors import ConflictError, Reject, ScenarioDeclarationError
from core.events import Channel, EventKind, InboundEvent, OutgoingMessage
from core.identity import Account, Person
from core.machine import Scenario, State, Transition
from core.ports import QueuedMessage, ScenarioState, Store, Transaction
from core.services import Services
from core.settings import Settings

log = logging.getLogger(__name__)

GLOBAL_COMMANDS = ("/start", "/help", "/cancel")
REGISTRATION = "registration"
MAX_ATTEMPTS = 12


def utc_now() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(self, store: Store, scenarios: Iterable[Scenario], settings: Settings,
                 clock: Callable[[], datetime] = utc_now, services: Services | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.services = services or Services.from_settings(settings)
        self.scenarios = {s.name: s for s in scenarios}
        if REGISTRATION not in self.scenarios:
            raise ScenarioDeclarationError("the engine needs a 'registration' scenario")
        self.by_command = {c: s for s in self.scenarios.values() for c in s.commands}
        # set by whoever delivers (the outbox): replies are then handed over right after commit
        self.on_committed: Callable[[list[QueuedMessage]], None] | None = None
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary())

    async def handle(self, event: InboundEvent) -> list[OutgoingMessage]:
        """Apply one event exactly once; returns the replies it produced (already in the outbox)."""
        key = (event.channel.value, event.account_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        if event.photo and event.qr_texts is None and not event.attachment_error:
            event = await self.services.read_photo(event)  # before the transaction: it takes a while
        async with lock:
            try:
                return await self._with_retries(event, self._apply)
            except ConflictError:
                raise
            except Exception:
                log.exception("event %s from %s/%s failed", event.update_id, *key)
                return await self._with_retries(event, self._apply_failure)

    async def _with_retries(self, event: InboundEvent, step: Callable[..., Any]) -> list[OutgoingMessage]:
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with self.store.transaction() as tx:
                    queued: list[QueuedMessage] = await step(tx, event, self.clock())
                if queued and self.on_committed is not None:
                    self.on_committed(queued)
                return [OutgoingMessage(q.person_id, q.template, q.params, q.locale,
                                        Channel(q.channel) if q.channel else None, q.account_id) for q in queued]
            except ConflictError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")

    async def _identify(self, tx: Transaction, event: InboundEvent, now: datetime) -> tuple[Person, Account]:
        found = await tx.find_account_and_person(event.channel, event.account_id)
        if found is None:
            person = await tx.create_person(self._locale_for(event.locale_hint), now)
            account = await tx.add_account(person.id, event.channel, event.account_id,
                                           event.display_name, now)
        else:
            account, person = found
        account.last_seen_at = now
        account.unreachable_since = None  # they just wrote to us, so the channel works
        if event.display_name:
            account.display_name = event.display_name
        await tx.save_account(account)
        await tx.log_inbound(person.id, event, now)
        return person, account

    def _locale_for(self, hint: str | None) -> str:
        language = (hint or "").split("-")[0].lower()
        return language if language in self.settings.locales else self.settings.locale

    async def _queue(self, tx: Transaction, replies: list[OutgoingMessage], now: datetime) -> list[QueuedMessage]:
        leased = now + DELIVERY_LEASE if self.on_committed is not None else None
        return [QueuedMessage.fresh(await tx.enqueue(reply, now, leased), reply) for reply in replies]

    async def _apply(self, tx: Transaction, event: InboundEvent, now: datetime) -> list[QueuedMessage]:
        if event.update_id is not None and not await tx.claim_update(event.channel, event.update_id, now):
            return []
        person, account = await self._identify(tx, event, now)
        states = await tx.load_states(person.id)
        active = next((s for s in states.values() if s.active), None)
        ctx = Context(event, person, account, tx, now, self.settings, states, self.services, current=active)
        await self._route(ctx)
        if ctx.current is not None and ctx.current.active:
            ctx.touch(ctx.current)  # every step bumps the version, so racing steps conflict
        for state in ctx.touched:
            await tx.save_state(state, now)
        return await self._queue(tx, ctx.replies, now)

    async def _apply_failure(self, tx: Transaction, event: InboundEvent, now: datetime) -> list[QueuedMessage]:
        """The step crashed and was rolled back: record the update so it is not retried forever, and say so."""
        if event.update_id is not None and not await tx.claim_update(event.channel, event.update_id, now):
            return []
        person, _ = await self._identify(tx, event, now)
        reply = OutgoingMessage(person.id, "common.error", {}, person.locale, event.channel, event.account_id)
        return await self._queue(tx, [reply], now)

    # routing -------------------------------------------------------------------------------

    async def _route(self, ctx: Context) -> None:
        event = ctx.event
        if event.kind is EventKind.COMMAND and event.command in GLOBAL_COMMANDS:
            await {"/start": self._start, "/help": self._help, "/cancel": self._cancel}[event.command](ctx)
            return
        if event.kind is EventKind.UNSUPPORTED:
            ctx.say("common.unsupported")
            self._reprompt(ctx)
            return
        if ctx.current is not None:
            scenario = self.scenarios[ctx.current.scenario]
            state = scenario.state(ctx.current.state)
            transition = next((t for t in state.transitions if t.matches(ctx)), None)
            if transition is not None:
                await self._fire(ctx, scenario, transition)
                return
        if event.kind is EventKind.COMMAND:
            scenario = self.by_command.get(event.command)
            if scenario is not None:
                await self._begin(ctx, scenario)
            else:
                ctx.say("common.unknown_command", command=event.command)
                self._reprompt(ctx)
            return
        if ctx.current is not None:
            ctx.say("common.unexpected")
            self._reprompt(ctx)
            return
        if not ctx.person.is_registered:
            await self._begin(ctx, self.scenarios[REGISTRATION])
            return
        starter = next((s for s in self.scenarios.values() if event.kind in s.starts_on
                        and (s.starts_when is None or s.starts_when(ctx))), None)
        if starter is not None:
            await self._begin(ctx, starter, apply_event=True)
        else:
            ctx.say("common.menu")

    async def _start(self, ctx: Context) -> None:
        if ctx.event.args and not ctx.person.source:
            ctx.person.source = ctx.event.args[:64]  # the deep-link payload: which pack or poster
            await ctx.tx.save_person(ctx.person)
        if ctx.person.is_registered:
            self._stop_current(ctx)
            ctx.say("common.welcome_back")
        else:
            await self._begin(ctx, self.scenarios[REGISTRATION])

    async def _help(self, ctx: Context) -> None:
        ctx.say("common.help" if ctx.person.is_registered else "common.help_guest")
        if ctx.current is not None:
            self._reprompt(ctx)

    async def _cancel(self, ctx: Context) -> None:
        if ctx.current is None:
            ctx.say("common.nothing_to_cancel" if ctx.person.is_registered else "registration.cancelled")
            return
        self._stop_current(ctx)
        ctx.say("common.cancelled" if ctx.person.is_registered else "registration.cancelled")

    def _stop_current(self, ctx: Context) -> None:
        if ctx.current is not None:
            ctx.current.active = False
            ctx.touch(ctx.current)
            ctx.current = None

    def _reprompt(self, ctx: Context) -> None:
        if ctx.current is None:
            if ctx.person.is_registered:
                ctx.say("common.menu")
            return
        state = self.scenarios[ctx.current.scenario].state(ctx.current.state)
        if state.prompt:
            ctx.say(state.prompt, **ctx.current.data)

    async def _begin(self, ctx: Context, scenario: Scenario, apply_event: bool = False) -> None:
        if scenario.needs_registration and not ctx.person.is_registered:
            ctx.say("common.register_first")
            if ctx.current is None or ctx.current.scenario != REGISTRATION:
                await self._begin(ctx, self.scenarios[REGISTRATION])
            else:
                self._reprompt(ctx)
            return
        state = ctx.states.get(scenario.name) or ScenarioState(
            ctx.person.id, scenario.name, scenario.initial[0], True)
        state.data = {}
        ctx.activate(state)
        first = (await scenario.entry(ctx) if scenario.entry else None) or scenario.initial[0]
        if first not in scenario.initial:
            raise ScenarioDeclarationError(f"{scenario.name}: entry chose undeclared {first!r}")
        event = ctx.event
        if scenario.takes_args and event.kind is EventKind.COMMAND and event.args:
            ctx.event = replace(event, kind=EventKind.TEXT, text=event.args, command="", args="")
            apply_event = True
        await self._enter(ctx, scenario, first, announce=not apply_event)
        if apply_event:
            await self._route(ctx)

    async def _enter(self, ctx: Context, scenario: Scenario, name: str, announce: bool = True) -> None:
        current = ctx.current
        assert current is not None
        state: State = scenario.state(name)
        current.state = name
        ctx.touch(current)
        if state.on_enter is not None:
            await state.on_enter(ctx)
        if state.prompt and announce:
            ctx.say(state.prompt, **current.data)
        if state.final:
            self._stop_current(ctx)

    async def _fire(self, ctx: Context, scenario: Scenario, transition: Transition) -> None:
        try:
            chosen = await transition.action(ctx) if transition.action else None
        except Reject as refusal:
            ctx.say(refusal.template, **refusal.params)
            self._reprompt(ctx)
            return
        if chosen is not None and chosen not in transition.targets():
            raise ScenarioDeclarationError(f"{scenario.name}: action chose undeclared {chosen!r}")
        target = chosen or transition.to
        if target is not None:
            await self._enter(ctx, scenario, target)
