"""Frequency caps (issue 18 §3): broadcasts per person per calendar day and week in the person's own zone, all
channels together and per channel; transactional messages never capped; a capped broadcast ends ``capped`` with
the reason stored, and the broadcast's report counts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core import broadcasts
from core.advertising import Marketing
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from core.gates import GO, Reason, Situation, Verdict
from core.gates.caps import Cap, ChannelCapGate, FrequencyCapGate, FrequencyCaps, at_cap, period_start
from core.gates.standard import standard_policy
from core.identity import ChannelAccount
from core.outbox import Outbox
from core.ports import Store
from core.ports.messages import BroadcastSend, Outcome, QueuedMessage
from core.router import Facts
from core.templates import Templates
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from tests.test_broadcasts import REGISTERED, cli
from tests.test_console import console_client
from tests.test_console_manager import _login
from tests.test_routing import TELEGRAM, VK, StandIn, VkStandIn

MOSCOW, VLADIVOSTOK = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Vladivostok")
CHAT, SMS = ChannelName("chat"), ChannelName("sms")
PROFILES = {CHAT: ChannelProfile(CHAT, "Chat", TextFormat.PLAIN, max_text=4000),
            SMS: ChannelProfile(SMS, "SMS", TextFormat.BRIEF, max_text=480, buttons=False)}
# Wednesday 9 December 2026, 12:00 in Moscow, 19:00 in Vladivostok
NOON = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def broadcast(message_id: int = 10, broadcast_id: int | None = 3) -> QueuedMessage:
    return QueuedMessage(message_id, 7, None, None, "notify.announcement", {}, "ru", bulk=True,
                         broadcast_id=broadcast_id)


def sent(message_id: int, at: datetime | None, channel: ChannelName = CHAT) -> BroadcastSend:
    return BroadcastSend(message_id, 7, channel, at)


def situation(queued: QueuedMessage, sends: list[BroadcastSend], zone: ZoneInfo = MOSCOW,
              now: datetime = NOON) -> Situation:
    marketing = Marketing(sends=sends) if queued.broadcast_id is not None else None
    return Situation(queued, Facts([], marketing=marketing), PROFILES, zone, now)


def account(channel: ChannelName) -> ChannelAccount:
    return ChannelAccount(1, 7, channel, "42", "Анна")


def test_caps_read_as_written_and_refuse_what_is_not_a_cap() -> None:
    caps = FrequencyCaps.parse("3/day, 10/week, sms:1/day")
    assert caps.caps == (Cap(3, "day"), Cap(10, "week"), Cap(1, "day", SMS))
    assert str(caps) == "3/day, 10/week, sms:1/day"
    assert FrequencyCaps.parse("off").caps == () and FrequencyCaps.parse("").caps == ()
    for wrong in ("3 per day", "3/month", "day/3", "-1/day", "3/day;10/week"):
        with pytest.raises(ValueError, match="expected terms like"):
            FrequencyCaps.parse(wrong)


def test_days_and_weeks_are_calendar_ones_in_the_persons_zone() -> None:
    assert period_start(NOON, "day", MOSCOW) == datetime(2026, 12, 8, 21, 0, tzinfo=UTC)
    assert period_start(NOON, "day", VLADIVOSTOK) == datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    assert period_start(NOON, "week", MOSCOW) == datetime(2026, 12, 6, 21, 0, tzinfo=UTC)  # Monday 00:00 Moscow


def test_a_broadcast_over_the_days_cap_ends_capped_and_one_under_it_goes() -> None:
    gate = FrequencyCapGate(FrequencyCaps.parse("2/day"))
    yesterday_evening = datetime(2026, 12, 8, 20, 30, tzinfo=UTC)  # 23:30 Moscow: the day before
    assert gate.check(situation(broadcast(), [sent(1, NOON - timedelta(hours=1)), sent(2, yesterday_evening)])) is GO
    today = [sent(1, NOON - timedelta(hours=1)), sent(2, NOON - timedelta(hours=2))]
    capped = gate.check(situation(broadcast(), today))
    assert (capped.verdict, capped.reason, capped.text) == (Verdict.DROP, Reason.CAPPED, "2/day reached")
    # the same sends, for a person in Vladivostok, where 23:30 Moscow was already today (06:30)
    assert gate.check(situation(broadcast(), [sent(1, NOON - timedelta(hours=1)), sent(2, yesterday_evening)],
                                VLADIVOSTOK)).verdict is Verdict.DROP


def test_the_weeks_cap_counts_from_monday() -> None:
    gate = FrequencyCapGate(FrequencyCaps.parse("2/week"))
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    monday = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert gate.check(situation(broadcast(), [sent(1, sunday), sent(2, monday)])) is GO
    assert gate.check(situation(broadcast(), [sent(1, monday), sent(2, monday)])).verdict is Verdict.DROP


def test_of_two_claimed_together_the_earlier_takes_the_last_place() -> None:
    gate = FrequencyCapGate(FrequencyCaps.parse("1/day"))
    in_flight = [sent(10, None), sent(11, None)]
    assert gate.check(situation(broadcast(10), in_flight)) is GO
    assert gate.check(situation(broadcast(11), in_flight)).verdict is Verdict.DROP


def test_transactional_messages_are_never_capped() -> None:
    gate = FrequencyCapGate(FrequencyCaps.parse("1/day"))
    many = [sent(i, NOON - timedelta(minutes=i)) for i in range(1, 6)]
    assert gate.check(situation(broadcast(broadcast_id=None), many)) is GO


def test_a_channels_own_cap_skips_that_channel_only() -> None:
    gate = ChannelCapGate(FrequencyCaps.parse("5/day, sms:1/day"))
    sends = [sent(1, NOON - timedelta(hours=1), SMS)]
    skipped = gate.check(situation(broadcast(), sends), account(SMS))
    assert (skipped.verdict, skipped.reason, skipped.text) == (Verdict.SKIP, Reason.CAPPED,
                                                               "capped: sms:1/day reached")
    assert gate.check(situation(broadcast(), sends), account(CHAT)) is GO


async def test_the_store_gives_recent_and_in_flight_broadcasts_only(store: Store) -> None:
    now = NOON
    async with store.transaction() as tx:
        person = await tx.people.create("ru", now)
        other = await tx.people.create("ru", now)
        for template, broadcast_id, who in (("a", 1, person.id), ("b", 1, person.id), ("c", None, person.id),
                                            ("d", 2, person.id), ("e", 2, other.id), ("f", 2, person.id)):
            tx.messages.enqueue(OutgoingMessage(who, "notify.announcement", {"t": template}, "ru", bulk=True,
                                                broadcast_id=broadcast_id), now - timedelta(days=9))
    async with store.transaction() as tx:
        entries = await tx.messages.entries()
        ids = [e.id for e in entries]
        # a and c sent long ago (a: outside the window), b sent today, d is being sent, e another person's, f waits
        await tx.messages.record([Outcome(ids[0], MessageStatus.SENT, CHAT, "42")], now - timedelta(days=9))
        await tx.messages.record([Outcome(ids[1], MessageStatus.SENT, CHAT, "42")], now - timedelta(hours=1))
        await tx.messages.record([Outcome(ids[2], MessageStatus.SENT, CHAT, "42")], now - timedelta(hours=1))
        await tx.messages.record([Outcome(ids[4], MessageStatus.SENT, CHAT, "43")], now - timedelta(hours=1))
    async with store.transaction() as tx:
        claimed = await tx.messages.claim_due(now, "w1", now + timedelta(minutes=2), now - timedelta(seconds=10), 100)
    assert {m.id for m in claimed} == {ids[3], ids[5]}
    async with store.transaction() as tx:
        await tx.messages.record([Outcome(ids[5], MessageStatus.PENDING, retry_at=now + timedelta(hours=3))], now)
        found = await tx.messages.broadcast_sends([person.id, other.id], now - timedelta(days=8))
    mine = sorted((s.message_id, s.sent_at is None) for s in found[person.id])
    assert mine == [(ids[1], False), (ids[3], True)]
    assert [s.message_id for s in found[other.id]] == [ids[4]]


async def test_through_the_outbox_a_capped_person_gets_nothing_more_and_the_report_says_why(store: Store,
                                                                                            clock) -> None:
    """Three broadcasts in one day under ``2/day, telegram:1/day``: the first goes by Telegram, the second by
    VK (Telegram's own cap reached), the third to nobody; a winner notice still goes; the report counts it."""
    clock.now = NOON
    async with store.transaction() as tx:
        person = await tx.people.create("ru", clock())
        person.registered_at = clock()
        await tx.people.save(person)
        await tx.people.add_account(person.id, TELEGRAM, "1001", "", clock())
        await tx.people.add_account(person.id, VK, "2001", "", clock())
    channels = {TELEGRAM: StandIn(ChannelProfile(TELEGRAM, "Telegram", TextFormat.HTML, max_text=4096)),
                VK: VkStandIn(ChannelProfile(VK, "VK", TextFormat.PLAIN, max_text=4096))}
    outbox = Outbox(store, Templates.load(), channels, clock=clock, worker_id="w",  # type: ignore[arg-type]
                    policy=standard_policy(MOSCOW, caps=FrequencyCaps.parse("2/day, telegram:1/day")))
    started = []
    for text in ("первая", "вторая", "третья"):
        started.append(await broadcasts.start(store, Templates.load(), "notify.announcement", {"text": text},
                                              REGISTERED, clock()))
        clock.now += timedelta(minutes=5)
        while await outbox.claim_due():
            assert await outbox.drained(10)
    assert [m.text for _, m in channels[TELEGRAM].sent] == ["первая"]
    assert [m.text for _, m in channels[VK].sent] == ["вторая"]
    async with store.transaction() as tx:
        tx.messages.enqueue(OutgoingMessage(person.id, "notify.announcement", {"text": "вы выиграли"}, "ru",
                                            bulk=True), clock())
    while await outbox.claim_due():
        assert await outbox.drained(10)
    assert [m.text for _, m in channels[TELEGRAM].sent] == ["первая", "вы выиграли"]  # not a broadcast: not capped
    third = await broadcasts.report(store, started[2].id)
    assert third is not None and third.by_status == {"capped": 1}
    assert list(third.failures) == ["capped: 2/day reached"]
    async with store.transaction() as tx:
        decisions = await tx.routes.decisions(person_id=person.id)
        events = await tx.events.of_person(person.id)
    assert any(d.outcome == "capped" for d in decisions)
    second_route = [d for d in decisions if d.channel == VK]
    assert second_route and any(c.dropped == "capped: telegram:1/day reached" for c in second_route[0].candidates)
    assert [e.data["cap"] for e in events if e.kind == "message.capped"] == ["2/day"]
    clock.now = NOON + timedelta(days=1)  # the next day in Moscow: a place again
    await broadcasts.start(store, Templates.load(), "notify.announcement", {"text": "завтра"}, REGISTERED, clock())
    while await outbox.claim_due():
        assert await outbox.drained(10)
    assert [m.text for _, m in channels[TELEGRAM].sent][-1] == "завтра"


async def test_the_preview_counts_who_is_at_a_cap_now_each_in_their_own_day(store: Store) -> None:
    """Two broadcasts each today under ``2/day``: the Moscow person is at the cap; the one in Vladivostok had theirs
    yesterday by their clock (it is past midnight there); one with a broadcast in flight and one sent counts too."""
    now = datetime(2026, 12, 9, 15, 30, tzinfo=UTC)  # 18:30 in Moscow, 01:30 the next day in Vladivostok
    async with store.transaction() as tx:
        moscow, far, in_flight, fresh = [await tx.people.create("ru", now) for _ in range(4)]
        for person in (moscow, far, in_flight, fresh):
            person.registered_at = now
            await tx.people.save(person)
        await tx.routes.set_time_zone(far.id, "Asia/Vladivostok", now)
        for who in (moscow, moscow, far, far, in_flight, in_flight):
            tx.messages.enqueue(OutgoingMessage(who.id, "notify.announcement", {"text": "x"}, "ru", bulk=True,
                                                broadcast_id=1), now)
    async with store.transaction() as tx:
        ids = [e.id for e in await tx.messages.entries()]
        await tx.messages.record([Outcome(i, MessageStatus.SENT, CHAT, "42") for i in ids[:2]], now)
        await tx.messages.record([Outcome(i, MessageStatus.SENT, CHAT, "43") for i in ids[2:4]],
                                 now - timedelta(hours=2))  # 23:30 yesterday in Vladivostok
        await tx.messages.record([Outcome(ids[4], MessageStatus.SENT, CHAT, "44")], now)
    async with store.transaction() as tx:
        claimed = await tx.messages.claim_due(now, "w1", now + timedelta(minutes=2), now - timedelta(seconds=10), 9)
    assert [m.id for m in claimed] == [ids[5]]  # the second to ``in_flight`` is being sent
    capping = broadcasts.Capping(FrequencyCaps.parse("2/day, sms:1/day"), now, MOSCOW)
    shown = await broadcasts.preview(store, Templates.load(), "notify.announcement", {"text": "y"}, REGISTERED,
                                     capping=capping)
    assert (shown.people, shown.at_cap, shown.caps) == (4, 2, "2/day")
    async with store.transaction() as tx:
        assert await at_cap(tx, [moscow.id, far.id, in_flight.id, fresh.id], capping.caps, now, MOSCOW) == \
            {moscow.id, in_flight.id}
    uncapped = await broadcasts.preview(store, Templates.load(), "notify.announcement", {"text": "y"}, REGISTERED)
    assert (uncapped.people, uncapped.at_cap) == (4, 0)


async def test_the_console_confirmation_says_how_many_are_at_a_cap(store: Store, clock) -> None:
    clock.now = NOON
    async with store.transaction() as tx:
        capped, free = [await tx.people.create("ru", clock()) for _ in range(2)]
        for person in (capped, free):
            person.registered_at = clock()
            await tx.people.save(person)
        tx.messages.enqueue(OutgoingMessage(capped.id, "notify.announcement", {"text": "x"}, "ru", bulk=True,
                                            broadcast_id=1), clock())
    async with store.transaction() as tx:
        (entry,) = await tx.messages.entries()
        await tx.messages.record([Outcome(entry.id, MessageStatus.SENT, CHAT, "42")], clock())
    http = await console_client(store, clock, caps=FrequencyCaps.parse("1/day, 5/week"))
    try:
        csrf = await _login(http, "ivan")
        choice = {"csrf": csrf, "template": "notify.announcement", "segment": "registered", "params": "text=Ещё",
                  "answer_within_hours": "", "deadline_hours": "72"}
        page = await (await http.post("/console/broadcasts/confirm", data=choice)).text()
        assert "<strong>2</strong> человек" in page
        assert '<p class="at-cap">Из них <strong>1</strong> уже получили столько рассылок' in page
        assert "(1/day, 5/week)" in page
    finally:
        await http.close()


async def test_the_command_line_confirmation_says_how_many_are_at_a_cap(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "promo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    async with store.transaction() as tx:
        for _ in range(3):
            person = await tx.people.create("ru", now)
            person.registered_at = now
            await tx.people.save(person)
            tx.messages.enqueue(OutgoingMessage(person.id, "notify.announcement", {"text": "x"}, "ru", bulk=True,
                                                broadcast_id=1), now)
    async with store.transaction() as tx:
        ids = [e.id for e in await tx.messages.entries()]
        await tx.messages.record([Outcome(i, MessageStatus.SENT, CHAT, str(i)) for i in ids[:2]], now)
    await store.close()
    await engine.dispose()
    monkeypatch.setenv("FREQUENCY_CAPS", "1/day")
    said = cli(database, "send", "notify.announcement", "--segment", "registered", "--param", "text=Ещё").stdout
    assert "3 people now (ru 3)" in said
    assert "2 of them already had as many broadcasts as the caps allow (1/day): theirs would end capped" in said
