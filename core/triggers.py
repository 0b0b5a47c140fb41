"""Timers and domain events as triggers of the declared machines: a step with a person and no inbound message.

A scenario's state declares ``on(TIMER, payload="reminder")`` or ``on(HAPPENED, payload="receipt.approved")``
like any other transition; ``Scenario.started_by`` (event kinds) begins it for a person when such an
event happens to them and it is not running for them already. A background step
leaves the conversation the person is in alone: it moves only its own scenario, and what it says is routed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.channels import ChannelName
from core.context import Context
from core.dispatch import Dispatcher
from core.domain_events import DomainEvent
from core.events import EventKind, InboundEvent
from core.machine import Catalog, Scenario
from core.ports import ScenarioState, UnitOfWork
from core.ports.timers import Timer
from core.services import Services
from core.settings import Settings

NOWHERE = ChannelName("")  # a background event came from no channel


def timer_event(timer: Timer) -> InboundEvent:
    return InboundEvent(NOWHERE, "", EventKind.TIMER, update_id=f"timer:{timer.id}", payload=timer.name,
                        details=dict(timer.data))


def happened_event(event: DomainEvent) -> InboundEvent:
    return InboundEvent(NOWHERE, "", EventKind.HAPPENED, update_id=f"event:{event.id}", payload=event.kind.value,
                        details=dict(event.data))


def listening_kinds(catalog: Catalog) -> set[str]:
    """The domain event kinds some machine waits for or starts on."""
    kinds = {kind for scenario in catalog for kind in scenario.started_by}
    for scenario in catalog:
        for state in scenario.states:
            kinds |= {t.payload for t in state.transitions if EventKind.HAPPENED in t.accepts and t.payload}
    return kinds


def _running(scenario: Scenario, state: ScenarioState | None) -> bool:
    return state is not None and not scenario.state(state.state).final


class Background:
    """Applies a timer or a domain event to the person's machines, inside the caller's unit of work."""

    def __init__(self, catalog: Catalog, dispatcher: Dispatcher, settings: Settings, services: Services) -> None:
        self.catalog = catalog
        self.dispatcher = dispatcher
        self.settings = settings
        self.services = services

    async def step(self, tx: UnitOfWork, person_id: int, event: InboundEvent, scenarios: Iterable[str],
                   now: datetime) -> Context | None:
        try:
            person = await tx.people.get(person_id)
        except LookupError:  # gone: nothing of theirs runs any more
            return None
        if person.merged_into_id is not None:  # merged away: their timers moved to the survivor with them
            return None
        states = await tx.states.load(person.id)
        ctx = Context(event, person, None, tx, now, self.settings, self.services, self.dispatcher, states)
        for name in scenarios:
            scenario = self.catalog[name]
            state = states.get(name)
            if not _running(scenario, state) and event.payload in scenario.started_by:
                state = self._fresh(ctx, scenario, state)
            if state is not None and _running(scenario, state):
                await self._apply(ctx, scenario, state)
        for state in ctx.touched:
            await tx.states.save(state, now)
        return ctx

    def _fresh(self, ctx: Context, scenario: Scenario, old: ScenarioState | None) -> ScenarioState:
        state = old or ScenarioState(ctx.person.id, scenario.name, scenario.initial[0], False)
        state.state, state.data = scenario.initial[0], {}
        ctx.states[scenario.name] = state
        ctx.touch(state)
        return state

    async def _apply(self, ctx: Context, scenario: Scenario, state: ScenarioState) -> None:
        transition = next((t for t in scenario.state(state.state).transitions if t.matches(ctx)), None)
        if transition is None:  # this state does not wait for it (a timer of a state left since)
            return
        outer, ctx.current = ctx.current, state
        try:
            await self.dispatcher.fire(ctx, scenario, transition)
        finally:
            ctx.current = outer if outer is not state else None
        ctx.touch(state)

    def scenarios_for(self, event: DomainEvent) -> list[str]:
        kind = event.kind.value
        return [s.name for s in self.catalog
                if kind in s.started_by or any(t.payload == kind and EventKind.HAPPENED in t.accepts
                                               for st in s.states for t in st.transitions)]


def details(ctx: Context) -> dict[str, Any]:
    """What the timer or the domain event carried."""
    return dict(ctx.event.details or {})
