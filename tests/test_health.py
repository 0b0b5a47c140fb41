"""Channel health: measured from sends (a circuit that opens, cools off and probes back) or marked by a manager."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.channels import ChannelName
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult
from core.gates import Reason, Verdict
from core.gates.accounts import ChannelUp
from core.health import ChannelHealth
from core.ports.channel_health import ChannelState, HealthChange
from tests.conftest import Clock
from tests.test_gates import account, situation

TG = ChannelName("chat")
TIMEOUT = DeliveryResult(DeliveryOutcome.RETRY, detail="Request timeout error")
THROTTLED = DeliveryResult(DeliveryOutcome.RETRY, retry_after=1.0, detail="429", throttled=True)
BLOCKED = DeliveryResult(DeliveryOutcome.UNREACHABLE, detail="blocked")


def health(clock: Clock) -> ChannelHealth:
    return ChannelHealth(clock, min_sends=5, cool_off=timedelta(seconds=30))


def test_timeouts_take_a_channel_down_and_a_probe_brings_it_back(clock: Clock) -> None:
    tracker, fallen = health(clock), []
    tracker.listeners.append(lambda channel, condition: fallen.append((channel, condition.reason)))
    for _ in range(4):
        tracker.observe(TG, TIMEOUT)
    assert tracker.condition(TG).state is ChannelState.HEALTHY  # too few sends to judge
    tracker.observe(TG, TIMEOUT)
    assert tracker.down() == {TG: "5 of the last 5 sends failed (Request timeout error)"}
    assert fallen == [(TG, "5 of the last 5 sends failed (Request timeout error)")]
    clock.advance(seconds=29)
    assert tracker.condition(TG).state is ChannelState.DOWN
    clock.advance(seconds=2)
    assert tracker.condition(TG).state is ChannelState.DEGRADED and tracker.down() == {}  # one probe may go
    tracker.before_send(TG)
    assert tracker.condition(TG).state is ChannelState.DOWN  # only one: the others wait for its outcome
    tracker.observe(TG, TIMEOUT)
    clock.advance(seconds=31)
    tracker.before_send(TG)
    tracker.observe(TG, DELIVERED)
    assert tracker.condition(TG).state is ChannelState.HEALTHY
    assert [(c.state, c.by, c.manual) for c in tracker.take_changes()] == [
        (ChannelState.DOWN, "measured", False), (ChannelState.HEALTHY, "measured", False)]
    assert tracker.take_changes() == []


def test_rate_limits_unreachable_people_and_refusals_are_the_channel_working(clock: Clock) -> None:
    tracker = health(clock)
    for result in [THROTTLED, BLOCKED, DeliveryResult(DeliveryOutcome.FAILED, detail="bad request")] * 5:
        tracker.observe(TG, result)
    assert tracker.condition(TG).state is ChannelState.HEALTHY


def test_a_channel_failing_now_and_then_is_degraded_not_down_and_old_failures_age_out(clock: Clock) -> None:
    tracker = health(clock)
    for result in [TIMEOUT, DELIVERED, DELIVERED, DELIVERED, TIMEOUT, DELIVERED, DELIVERED]:
        tracker.observe(TG, result)
    assert tracker.condition(TG).state is ChannelState.DEGRADED
    clock.advance(seconds=61)
    for _ in range(5):
        tracker.observe(TG, DELIVERED)
    assert tracker.condition(TG).state is ChannelState.HEALTHY


def test_a_managers_mark_rules_until_lifted_whatever_is_measured(clock: Clock) -> None:
    tracker, fallen = health(clock), []
    tracker.listeners.append(lambda channel, condition: fallen.append((channel, condition.manual)))
    mark = HealthChange(TG, ChannelState.DOWN, "national block since 10:00", "olga", clock(), manual=True)
    tracker.heed_marks({TG: mark})
    tracker.heed_marks({TG: mark})  # read again at the next pass: told once
    for _ in range(10):
        tracker.observe(TG, DELIVERED)
    assert tracker.down() == {TG: "national block since 10:00"} and fallen == [(TG, True)]
    tracker.heed_marks({})
    assert tracker.down() == {}


def test_the_gate_skips_a_channel_that_is_down_with_the_reason_stored() -> None:
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    down = situation(accounts=[account()], now=now)
    assert ChannelUp().check(down, account()).verdict is Verdict.GO
    ruling = ChannelUp().check(replace(down, down={ChannelName("chat"): "national block"}), account())
    assert (ruling.verdict, ruling.reason, ruling.text) == (Verdict.SKIP, Reason.CHANNEL_DOWN,
                                                            "channel down: national block")
