"""What a scenario action works with: the event, the person, this unit of work, and where replies go."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import ScenarioDeclarationError
from core.events import InboundEvent, OutgoingMessage
from core.identity import ChannelAccount, Person
from core.merging import merge_persons
from core.ports import ScenarioState, UnitOfWork
from core.services import Services
from core.settings import Settings

if TYPE_CHECKING:
    from core.machine import Scenario


class Runner(Protocol):
    """What an action may ask of the machine that runs it."""

    async def begin(self, ctx: Context, scenario: Scenario, apply_event: bool = False) -> None: ...
    def onboarding(self) -> Scenario: ...


@dataclass
class Context:
    event: InboundEvent
    person: Person
    account: ChannelAccount
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

    def say(self, template: str, **params: Any) -> None:
        """Reply on the account the event came from."""
        self.replies.append(OutgoingMessage(
            self.person.id, template, {**self.common_params(), **params},
            self.person.locale, self.event.channel, self.event.account_id))

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

    async def begin(self, scenario: Scenario, apply_event: bool = False) -> None:
        await self.runner.begin(self, scenario, apply_event)

    async def begin_onboarding(self) -> None:
        await self.runner.begin(self, self.runner.onboarding())

    async def merge_into(self, survivor_id: int, reason: str) -> None:
        """Join this person into ``survivor_id``; from now on the context speaks for the survivor."""
        running = self.current
        await merge_persons(self.tx, survivor_id, self.person.id, reason, self.now)
        self.person = await self.tx.people.get(survivor_id)
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
