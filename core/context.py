"""What a scenario action works with: the event, the person, this unit of work, and where replies go.

A step a person's message started has the account it came from; a step a timer or a domain event
started (``background``) has the person only: what it says is routed to their best channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.errors import ScenarioDeclarationError
from core.events import EventKind, InboundEvent, OutgoingMessage
from core.identity import ChannelAccount, Person
from core.merging import merge_persons
from core.ports import ScenarioState, UnitOfWork
from core.services import Services
from core.settings import Settings


class Runner(Protocol):
    """What an action may ask of the machine that runs it."""

    async def begin_named(self, ctx: Context, scenario: str, apply_event: bool = False) -> None: ...
    async def begin_onboarding(self, ctx: Context) -> None: ...


@dataclass
class Context:
    event: InboundEvent
    person: Person
    account: ChannelAccount | None  # None: a background step (a timer, a domain event)
    tx: UnitOfWork
    now: datetime
    settings: Settings
    services: Services
    runner: Runner
    states: dict[str, ScenarioState]
    current: ScenarioState | None = None
    replies: list[OutgoingMessage] = field(default_factory=list)
    touched: list[ScenarioState] = field(default_factory=list)
    aside_data: dict[str, Any] | None = None  # an aside scenario's memory: this step only
    starts: int = 0  # scenarios begun during this step

    @property
    def data(self) -> dict[str, Any]:
        """The running scenario's own memory, persisted with its state (an aside's lasts this step)."""
        if self.aside_data is not None:
            return self.aside_data
        if self.current is None:
            raise ScenarioDeclarationError("no scenario is running")
        return self.current.data

    @property
    def background(self) -> bool:
        return self.event.kind in (EventKind.TIMER, EventKind.HAPPENED)

    @property
    def sender(self) -> ChannelAccount:
        """The account the person wrote from (a step the person's message started)."""
        if self.account is None:
            raise ScenarioDeclarationError("a background step has no sender: nobody wrote")
        return self.account

    def say(self, template: str, **params: Any) -> None:
        """Reply on the account the event came from; in a background step, to the person wherever they are best
        reached (the router places it)."""
        channel, account = (None, None) if self.account is None else (self.event.channel, self.event.account_id)
        self.replies.append(OutgoingMessage(
            self.person.id, template, {**self.common_params(), **params}, self.person.locale, channel, account))

    async def set_timer(self, name: str, after: timedelta, **data: Any) -> None:
        """Wake the running scenario with ``on(TIMER, payload=name)`` after ``after`` (setting it again moves it)."""
        if self.current is None:
            raise ScenarioDeclarationError("a timer belongs to a running scenario")
        await self.tx.timers.set(self.person.id, self.current.scenario, name, self.now + after, data)

    async def cancel_timers(self, name: str | None = None) -> None:
        if self.current is not None:
            await self.tx.timers.cancel(self.person.id, self.current.scenario, name)

    def notify(self, person_id: int, template: str, *, locale: str, via: ChannelAccount | None = None,
               **params: Any) -> None:
        """A message to someone (or some account) other than the sender of this event."""
        self.replies.append(OutgoingMessage(
            person_id, template, {**self.common_params(), **params}, locale,
            via.channel if via else None, via.external_id if via else None))

    def common_params(self) -> dict[str, Any]:
        return {"name": self.person.name or "", "rules_url": self.services.rules_url}

    def touch(self, state: ScenarioState) -> None:
        if state not in self.touched:
            self.touched.append(state)

    def activate(self, state: ScenarioState) -> None:
        for other in self.states.values():
            if other.active and other is not state:
                other.active = False
                self.touch(other)
        state.active = True
        self.states[state.scenario] = state
        self.current = state
        self.touch(state)

    def abandon(self) -> None:
        """Stop whatever scenario is running."""
        if self.current is not None:
            self.current.active = False
            self.touch(self.current)
            self.current = None

    async def begin(self, scenario: str, apply_event: bool = False) -> None:
        await self.runner.begin_named(self, scenario, apply_event)

    async def begin_onboarding(self) -> None:
        await self.runner.begin_onboarding(self)

    async def merge_into(self, survivor_id: int, reason: str) -> None:
        """Join this person into ``survivor_id``; from now on the context speaks for the survivor."""
        running = self.current
        await merge_persons(self.tx, survivor_id, self.person.id, reason, self.now)
        self.person = await self.tx.people.get(survivor_id)
        if self.account is not None:
            self.account.person_id = survivor_id
        self.states = await self.tx.states.load(survivor_id)
        self.touched = []
        self.replies = [
            OutgoingMessage(survivor_id, r.template, r.params, self.person.locale, r.channel, r.account_id)
            for r in self.replies]
        if running is not None:
            adopted = self.states.get(running.scenario) or ScenarioState(
                survivor_id, running.scenario, running.state, True)
            adopted.state, adopted.data = running.state, running.data
            self.activate(adopted)
