"""How each channel is doing as a whole: measured from its sends, or as a manager marked it.

Measured: the share of channel faults (timeouts, network errors, 5xx: a ``RETRY`` the channel did
not ask for with "too many requests") among the channel's recent sends, over a sliding window. At
``degraded_share`` the channel is degraded (still used); at ``down_share``, with enough sends to
judge, the circuit opens: the channel is down for ``cool_off``, then half-open — the next send is
a probe, and its outcome closes the circuit or opens it again. A rate limit, an unreachable person
or a refused message is the channel working.

Marked: a manager's "down" (a national block) holds until they mark it up; it is read from the
store by every process (``HealthWatch``), so one mark reaches them all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.channels import ChannelName
from core.delivery import DeliveryOutcome, DeliveryResult
from core.ports.channel_health import ChannelState, HealthChange


def is_fault(result: DeliveryResult) -> bool:
    """The channel itself failed (not the person, not our message, not its rate limit)."""
    return result.outcome is DeliveryOutcome.RETRY and not result.throttled


@dataclass
class _Circuit:
    outcomes: deque[tuple[datetime, bool]] = field(default_factory=deque)  # (when, a fault)
    faults: int = 0
    opened_at: datetime | None = None
    probing: bool = False  # half-open: one send is out to see whether the channel is back
    state: ChannelState = ChannelState.HEALTHY
    reason: str = ""


@dataclass(frozen=True)
class Condition:
    state: ChannelState
    reason: str = ""
    manual: bool = False


HEALTHY = Condition(ChannelState.HEALTHY)


class ChannelHealth:
    def __init__(self, clock: Callable[[], datetime], *, window: timedelta = timedelta(seconds=60),
                 min_sends: int = 5, degraded_share: float = 0.2, down_share: float = 0.5,
                 cool_off: timedelta = timedelta(seconds=30)) -> None:
        self.clock = clock
        self.window = window
        self.min_sends = min_sends
        self.degraded_share = degraded_share
        self.down_share = down_share
        self.cool_off = cool_off
        self._circuits: dict[ChannelName, _Circuit] = {}
        self._marks: dict[ChannelName, HealthChange] = {}
        self._changes: list[HealthChange] = []  # measured changes not yet logged (``HealthWatch`` takes them)
        self.listeners: list[Callable[[ChannelName, Condition], None]] = []  # told when a channel goes down

    # what the router asks ------------------------------------------------------------------

    def condition(self, channel: ChannelName) -> Condition:
        mark = self._marks.get(channel)
        if mark is not None:
            return Condition(mark.state, mark.reason, manual=True)
        circuit = self._circuits.get(channel)
        if circuit is None:
            return HEALTHY
        if circuit.state is ChannelState.DOWN and self._may_probe(circuit):
            return Condition(ChannelState.DEGRADED, "probing after being down")
        return Condition(circuit.state, circuit.reason)

    def down(self) -> dict[ChannelName, str]:
        """The channels the router must skip now, with why."""
        names = set(self._marks) | set(self._circuits)
        return {name: condition.reason or "channel down" for name in names
                if (condition := self.condition(name)).state is ChannelState.DOWN}

    def _may_probe(self, circuit: _Circuit) -> bool:
        return circuit.opened_at is not None and self.clock() - circuit.opened_at >= self.cool_off \
            and not circuit.probing

    # what the sends say --------------------------------------------------------------------

    def before_send(self, channel: ChannelName) -> None:
        """A send is about to go on ``channel``: while half-open, it is the probe (and the only one)."""
        circuit = self._circuits.get(channel)
        if circuit is not None and circuit.state is ChannelState.DOWN and self._may_probe(circuit):
            circuit.probing = True

    def observe(self, channel: ChannelName, result: DeliveryResult) -> None:
        now = self.clock()
        circuit = self._circuits.setdefault(channel, _Circuit())
        fault = is_fault(result)
        if circuit.state is ChannelState.DOWN:
            if not circuit.probing:
                return  # sent before it went down: says nothing new
            circuit.probing = False
            if fault:
                circuit.opened_at = now  # still down: the next probe after another cool-off
                return
            circuit.outcomes.clear()
            circuit.faults = 0
            circuit.opened_at = None
            self._set(channel, circuit, ChannelState.HEALTHY, "a probe got through", now)
            return
        circuit.outcomes.append((now, fault))
        circuit.faults += fault
        while circuit.outcomes and now - circuit.outcomes[0][0] > self.window:
            circuit.faults -= circuit.outcomes.popleft()[1]
        sends = len(circuit.outcomes)
        share = circuit.faults / sends if sends else 0.0
        why = f"{circuit.faults} of the last {sends} sends failed ({result.detail or 'network'})"
        if sends >= self.min_sends and share >= self.down_share:
            circuit.opened_at = now
            self._set(channel, circuit, ChannelState.DOWN, why, now)
        elif sends >= self.min_sends and share >= self.degraded_share:
            self._set(channel, circuit, ChannelState.DEGRADED, why, now)
        elif share < self.degraded_share and circuit.state is not ChannelState.HEALTHY:
            self._set(channel, circuit, ChannelState.HEALTHY, "sends go through again", now)

    def _set(self, channel: ChannelName, circuit: _Circuit, state: ChannelState, reason: str, now: datetime) -> None:
        if circuit.state is state:
            circuit.reason = reason
            return
        circuit.state, circuit.reason = state, reason
        self._changes.append(HealthChange(channel, state, reason, "measured", now, manual=False))
        if state is ChannelState.DOWN and channel not in self._marks:
            self._tell(channel, Condition(state, reason))

    # what the store says (every process reads the managers' marks) ---------------------------

    def take_changes(self) -> list[HealthChange]:
        changes, self._changes = self._changes, []
        return changes

    def heed_marks(self, marks: dict[ChannelName, HealthChange]) -> None:
        newly_down = [c for c, mark in marks.items() if mark.state is ChannelState.DOWN
                      and (c not in self._marks or self._marks[c].state is not ChannelState.DOWN)]
        self._marks = dict(marks)
        for channel in newly_down:
            self._tell(channel, Condition(ChannelState.DOWN, marks[channel].reason, manual=True))

    def _tell(self, channel: ChannelName, condition: Condition) -> None:
        for listener in self.listeners:
            listener(channel, condition)
