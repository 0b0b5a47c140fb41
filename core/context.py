"""What a scenario action works with: the event, the person, this transaction, and where replies go."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import ScenarioDeclarationError
from core.events import InboundEvent, OutgoingMessage
from core.identity import Account, Person
from core.ports import ScenarioState, Transaction
from core.services import Services
from core.settings import Settings


@dataclass
class Context:
    """What an action sees: the event, the person, this transaction, and where replies go."""

    event: InboundEvent
    person: Person
    account: Account
    tx: Transaction
    now: datetime
    settings: Settings
    states: dict[str, ScenarioState]
    services: Services
    current: ScenarioState | None = None
    replies: list[OutgoingMessage] = field(default_factory=list)
    touched: list[ScenarioState] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        """The running scenario's own memory, persisted with its state."""
        if self.current is None:
            raise ScenarioDeclarationError("no scenario is running")
        return self.current.data

    def say(self, template: str, **params: Any) -> None:
        """Reply on the account the event came from."""
        self.replies.append(OutgoingMessage(
            self.person.id, template, {**self.common_params(), **params},
            self.person.locale, self.event.channel, self.event.account_id))

    def notify(self, person_id: int, template: str, *, locale: str, via: Account | None = None,
               **params: Any) -> None:
        """A message to someone (or some account) other than the sender of this event."""
        self.replies.append(OutgoingMessage(
            person_id, template, {**self.common_params(), **params}, locale,
            via.channel if via else None, via.external_id if via else None))

    def common_params(self) -> dict[str, Any]:
        return {"name": self.person.name or "", "rules_url": self.settings.rules_url}

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

    async def merge_into(self, survivor_id: int, reason: str) -> dict[str, int]:
        """Join this person into ``survivor_id``; from now on the context speaks for the survivor."""
        running = self.current
        moved = await self.tx.merge_persons(survivor_id, self.person.id, reason, self.now)
        self.person = await self.tx.get_person(survivor_id)
        self.account.person_id = survivor_id
        self.states = await self.tx.load_states(survivor_id)
        self.touched = []
        self.replies = [
            OutgoingMessage(survivor_id, r.template, r.params, self.person.locale, r.channel, r.account_id)
            for r in self.replies]
        if running is not None:
            adopted = self.states.get(running.scenario) or ScenarioState(
                survivor_id, running.scenario, running.state, True)
            adopted.state, adopted.data = running.state, running.data
            self.activate(adopted)
        return moved
