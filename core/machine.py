"""How a scenario is declared: states, the events each accepts, guards, actions, targets, prompts.

A scenario file builds one ``Scenario`` from these pieces and reads top to bottom
like the user story. The engine (``core.engine``) runs it; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
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

    ``entry`` picks the first state among ``initial`` (the first one when absent).
    ``commands`` start the scenario from any state of any other scenario, and so do
    ``words`` typed on their own ("баланс", "help"): every command has words in each
    locale. ``takes_args``: ``/link 123456`` applies ``123456`` to the first state as
    typed text. ``starts_on`` lets an idle person's plain input (a photo, say) start
    it and be applied to the first state; ``starts_when`` narrows which input.

    An ``aside`` scenario (help, balance) answers and leaves whatever was running in
    place, repeating its question; it has one final state and keeps nothing. The
    ``onboarding`` scenario registers people: whatever needs registration waits for
    it, and input that would start a scenario marked ``kept_until_registered`` is
    kept and applied once registration completes.
    """

    name: str
    states: tuple[State, ...]
    initial: tuple[str, ...]
    commands: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    starts_on: frozenset[EventKind] = frozenset()
    needs_registration: bool = True
    takes_args: bool = False
    starts_when: Guard | None = None
    entry: Action | None = None
    aside: bool = False
    onboarding: bool = False
    kept_until_registered: bool = False
    started_by: tuple[str, ...] = ()  # domain event kinds that begin it for their person (``core.triggers``)
    by_name: dict[str, State] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.states})
        if self.aside and (len(self.states) != 1 or not self.states[0].final):
            raise ScenarioDeclarationError(f"{self.name}: an aside scenario has exactly one, final, state")
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
        """The diagram, one edge per pair of states with every way along it: ``a --> b : yes / consent:yes``."""
        lines = ["stateDiagram-v2"]
        lines += [f"    [*] --> {name}" for name in self.initial]
        for state in self.states:
            edges: dict[str, list[str]] = {}
            for transition in state.transitions:
                label = transition.label or _describe(transition)
                for target in transition.targets() or (state.name,):
                    if label not in edges.setdefault(target, []):
                        edges[target].append(label)
            lines += [f"    {state.name} --> {target} : {' / '.join(labels)}" for target, labels in edges.items()]
            if state.final:
                lines.append(f"    {state.name} --> [*]")
        return "\n".join(lines) + "\n"


def _describe(transition: Transition) -> str:
    if transition.payload:
        return transition.payload
    return " / ".join(sorted(kind.value for kind in transition.accepts))


def as_words(text: str) -> str:
    """Typed text reduced to what decides whether it names a command: "💰 Баланс!" -> "баланс"."""
    kept = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text.lower().replace("ё", "е"))
    return " ".join(kept.split())


class Catalog:
    """The scenarios a platform runs, indexed by command and by word; checked once at start-up."""

    def __init__(self, scenarios: Iterable[Scenario]) -> None:
        self.scenarios = {s.name: s for s in scenarios}
        self.by_command: dict[str, Scenario] = {}
        self.by_word: dict[str, Scenario] = {}
        for scenario in self.scenarios.values():
            for command in scenario.commands:
                self._index(self.by_command, command, scenario)
            for word in scenario.words:
                self._index(self.by_word, as_words(word), scenario)
        onboarding = [s for s in self.scenarios.values() if s.onboarding]
        if len(onboarding) != 1:
            raise ScenarioDeclarationError(f"exactly one onboarding scenario is needed, found {len(onboarding)}")
        self.onboarding = onboarding[0]

    @staticmethod
    def _index(index: dict[str, Scenario], key: str, scenario: Scenario) -> None:
        if key in index and index[key] is not scenario:
            raise ScenarioDeclarationError(f"{key!r} is claimed by {index[key].name} and {scenario.name}")
        index[key] = scenario

    def __getitem__(self, name: str) -> Scenario:
        return self.scenarios[name]

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self.scenarios.values())

    def named_by(self, text: str) -> Scenario | None:
        """The scenario whose words the whole of ``text`` is, if any."""
        return self.by_word.get(as_words(text)) if len(text) <= 40 else None
