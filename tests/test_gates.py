"""The delivery gates, each on its own: what it rules, and why, for the situations it exists for."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.channels import ChannelName, ChannelProfile, Identity, TextFormat
from core.gates import GO, DeliveryPolicy, Reason, Ruling, Situation, Verdict
from core.gates.accounts import ChannelRunning, Proved, Reachable, SessionWindow
from core.gates.deadline import Deadline
from core.gates.quiet_hours import QuietHours, QuietHoursGate
from core.gates.standard import standard_policy
from core.identity import ChannelAccount
from core.ports.messages import QueuedMessage
from core.router import Facts

MOSCOW = ZoneInfo("Europe/Moscow")
CHAT, PHONE = ChannelName("chat"), ChannelName("phone")
PROFILES = {CHAT: ChannelProfile(CHAT, "Chat", TextFormat.PLAIN, max_text=4000),
            PHONE: ChannelProfile(PHONE, "Phone", TextFormat.BRIEF, max_text=480, buttons=False,
                                  identity=Identity.PHONE)}
NOON = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def message(template: str = "notify.announcement", **fields: object) -> QueuedMessage:
    return QueuedMessage(1, 7, None, None, template, {}, "ru", **fields)  # type: ignore[arg-type]


def account(channel: ChannelName = CHAT, **fields: object) -> ChannelAccount:
    return ChannelAccount(1, 7, channel, "42", "Анна", **fields)  # type: ignore[arg-type]


def situation(queued: QueuedMessage | None = None, accounts: list[ChannelAccount] | None = None,
              now: datetime = NOON, profiles: dict[ChannelName, ChannelProfile] | None = None) -> Situation:
    return Situation(queued or message(), Facts(accounts or []), PROFILES if profiles is None else profiles,
                     MOSCOW, now)


def test_a_deadline_drops_only_once_passed_and_says_whether_it_was_ever_delivered() -> None:
    gate = Deadline()
    assert gate.check(situation(message(deadline=NOON + timedelta(seconds=1)))) is GO
    assert gate.check(situation(message())) is GO
    never = gate.check(situation(message(deadline=NOON)))
    assert (never.verdict, never.reason, never.text) == (Verdict.DROP, Reason.DEADLINE, "not delivered by the deadline")
    unanswered = gate.check(situation(message(deadline=NOON, tried=["chat:42"])))
    assert unanswered.text == "no answer by the deadline"


@pytest.mark.parametrize(("hours", "local", "quiet"), [
    ("22:00-09:00", time(23, 30), True), ("22:00-09:00", time(8, 59), True), ("22:00-09:00", time(9, 0), False),
    ("13:00-15:00", time(14, 0), True), ("13:00-15:00", time(15, 0), False), ("13:00-15:00", time(12, 59), False),
])
def test_quiet_hours_span_midnight_or_not(hours: str, local: time, quiet: bool) -> None:
    parsed = QuietHours.parse(hours)
    assert parsed is not None and parsed.contains(local) is quiet


def test_quiet_hours_hold_notices_until_they_end_in_the_persons_zone_and_never_hold_replies() -> None:
    gate = QuietHoursGate(QuietHours(time(22, 0), time(9, 0)))
    night = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    held = gate.check(situation(message(bulk=True), now=night))
    assert (held.verdict, held.reason) == (Verdict.HOLD, Reason.QUIET_HOURS)
    assert held.until == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
    assert gate.check(situation(message(ack_window_seconds=60), now=night)).verdict is Verdict.HOLD
    assert gate.check(situation(message(), now=night)) is GO  # a reply to someone writing now
    assert gate.check(situation(message(bulk=True), now=NOON)) is GO


def test_quiet_hours_are_read_or_refused_in_one_line() -> None:
    assert QuietHours.parse("off") is None and QuietHours.parse("") is None
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        QuietHours.parse("late")


def test_account_gates_skip_with_the_reason_a_reader_of_the_decision_needs() -> None:
    assert ChannelRunning().check(situation(), account()) is GO
    stopped = ChannelRunning().check(situation(profiles={}), account())
    assert (stopped.verdict, stopped.text) == (Verdict.SKIP, "channel not running")
    blocked = Reachable().check(situation(), account(unreachable_since=NOON, unreachable_reason="blocked"))
    assert (blocked.verdict, blocked.text) == (Verdict.SKIP, "blocked (since 2026-12-06 09:00 UTC)")
    assert Reachable().check(situation(), account()) is GO


def test_only_a_proved_number_of_a_verified_only_channel_is_written_to() -> None:
    typed = Proved().check(situation(), account(PHONE))
    assert (typed.verdict, typed.reason) == (Verdict.SKIP, Reason.NOT_VERIFIED)
    assert Proved().check(situation(), account(PHONE, verified_at=NOON)) is GO
    assert Proved().check(situation(), account(CHAT)) is GO  # a chat account is the person's by being there


def test_the_policy_rules_with_the_first_gate_that_does_not_say_go_and_screens_every_account() -> None:
    class Always:
        def __init__(self, ruling: Ruling) -> None:
            self.ruling, self.asked = ruling, 0

        def check(self, _: Situation) -> Ruling:
            self.asked += 1
            return self.ruling

    drop, hold = Always(Ruling(Verdict.DROP, Reason.DEADLINE)), Always(Ruling(Verdict.HOLD, Reason.QUIET_HOURS))
    policy = DeliveryPolicy([drop, hold])
    assert policy.ruling(situation()).verdict is Verdict.DROP and hold.asked == 0
    standard = standard_policy(MOSCOW)
    usable, dropped = standard.screen(situation(accounts=[account(), account(PHONE), account(ChannelName("fax"))]))
    assert [a.channel for a in usable] == [CHAT]
    assert [(c.channel, c.dropped) for c in dropped] == [(PHONE, "not verified"), ("fax", "channel not running")]


def test_a_persons_zone_is_theirs_when_it_exists_and_the_platforms_otherwise() -> None:
    policy = standard_policy(MOSCOW)
    assert policy.zone_of("Asia/Vladivostok") == ZoneInfo("Asia/Vladivostok")
    assert policy.zone_of("Mars/Olympus") == MOSCOW and policy.zone_of(None) == MOSCOW


def test_a_session_window_channel_writes_freely_within_the_window_and_outside_only_its_approved_templates() -> None:
    windowed = ChannelProfile(CHAT, "Chat", TextFormat.PLAIN, max_text=4000, session_window=timedelta(hours=24),
                              window_templates=frozenset({"draws.winner"}))
    profiles = {CHAT: windowed}
    gate = SessionWindow()
    recent = account(last_seen_at=NOON - timedelta(hours=23, minutes=59))
    assert gate.check(situation(profiles=profiles), recent) is GO
    stale = account(last_seen_at=NOON - timedelta(days=3, hours=2))
    closed = gate.check(situation(profiles=profiles), stale)
    assert (closed.verdict, closed.reason) == (Verdict.SKIP, Reason.SESSION_WINDOW)
    assert closed.text == "session window closed (last wrote 3 d 2 h ago); no approved template for notify.announcement"
    assert gate.check(situation(message(template="draws.winner"), profiles=profiles), stale) is GO  # approved
    never = gate.check(situation(profiles=profiles), account())
    assert "never wrote" in never.text
    assert gate.check(situation(), stale) is GO  # a channel without a window
