"""How a scenario is declared: states, the events each accepts, guards, actions, targets, prompts.

A scenario file builds one ``Scenario`` from these pieces and reads top to bottom
like the user story. The engine (``core.engine``) runs it; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import ScenarioDeclarationError
from core.events import EventKind

if TYPE_CHECKING:
    from core.context import Context

# An action does the work of a transition; it may return the name of another
# declared target (see ``Transition.also``) to branch, or None for ``to``.
Action = Callable[["Context"], Awaitable[str | None]]
Guard = Callable[["Context"], bool]


@dataclass(frozen=True)
class Transition:
    accepts: frozenset[EventKind]
    to: str | None = None  # None: stay in the same state
    payload: str | None = None  # for buttons and commands: the exact payload or command
    guard: Guard | None = None
    action: Action | None = None
    also: tuple[str, ...] = ()  # further targets the action may choose
    label: str = ""

    def matches(self, ctx: Context) -> bool:
        event = ctx.event
        if event.kind not in self.accepts:
            return False
        if self.payload is not None:
            wanted = event.command if event.kind is EventKind.COMMAND else event.payload
            if wanted != self.payload:
                return False
        return self.guard is None or self.guard(ctx)

    def targets(self) -> tuple[str, ...]:
        return tuple(t for t in (self.to, *self.also) if t is not None)


def on(*kinds: EventKind, to: str | None = None, payload: str | None = None,
       guard: Guard | None = None, action: Action | None = None,
       also: Iterable[str] = (), label: str = "") -> Transition:
    """Shorthand used by scenario files: ``on(TEXT, to="phone", action=store_name)``."""
    return Transition(frozenset(kinds), to, payload, guard, action, tuple(also), label)


@dataclass(frozen=True)
class State:
    name: str
    prompt: str | None = None  # template said on entry and after refused input
    transitions: tuple[Transition, ...] = ()
    final: bool = False
    on_enter: Action | None = None


@dataclass(frozen=True)
class Scenario:
    """A declared state machine.

    ``entry`` picks the first state among ``initial`` (the first one when absent);
    ``commands`` start the scenario from anywhere (``takes_args``: ``/link 123456``
    then applies ``123456`` as typed text); ``starts_on`` lets an idle
    person's plain input (a photo, say) start it and be applied to the first state.
    """

    name: str
    states: tuple[State, ...]
    initial: tuple[str, ...]
    commands: tuple[str, ...] = ()
    starts_on: frozenset[EventKind] = frozenset()
    needs_registration: bool = True
    takes_args: bool = False  # ``/command ARGS`` is applied to the first state as typed text
    starts_when: Guard | None = None  # narrows ``starts_on``: which idle input starts this scenario
    entry: Action | None = None
    by_name: dict[str, State] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.states})
        for target in self.initial:
            self._require(target, "initial")
        for state in self.states:
            for transition in state.transitions:
                for target in transition.targets():
                    self._require(target, f"{state.name} -> {target}")

    def _require(self, name: str, where: str) -> None:
        if name not in self.by_name:
            raise ScenarioDeclarationError(f"{self.name}: {where} names unknown state {name!r}")

    def state(self, name: str) -> State:
        return self.by_name[name]

    def to_mermaid(self) -> str:
        lines = ["stateDiagram-v2"]
        lines += [f"    [*] --> {name}" for name in self.initial]
        for state in self.states:
            for transition in state.transitions:
                label = transition.label or _describe(transition)
                for target in transition.targets() or (state.name,):
                    lines.append(f"    {state.name} --> {target} : {label}")
            if state.final:
                lines.append(f"    {state.name} --> [*]")
        return "\n".join(lines) + "\n"


def _describe(transition: Transition) -> str:
    if transition.payload:
        return transition.payload
    return " / ".join(sorted(kind.value for kind in transition.accepts))
