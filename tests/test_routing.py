"""The router picks a person's best reachable channel, falls back, escalates unanswered notices, and explains itself.

The channels here stand in for the platforms' APIs (each answers as it is told: delivered,
unreachable, not allowed); the store, the router and the outbox are the real ones, over
memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.email import EMAIL
from bots.sms import SMS
from core.channels import ChannelName, ChannelProfile, Identity, TextFormat
from core.delivery import DELIVERED, DeliveryOutcome, DeliveryResult, MessageStatus
from core.events import OutgoingMessage
from core.gates.quiet_hours import QuietHours
from core.gates.standard import standard_policy
from core.outbox import Outbox
from core.ports import Store
from core.templates import Rendered, Templates
from tests.conftest import Clock

TELEGRAM, VK = ChannelName("telegram"), ChannelName("vk")
TEMPLATES = Templates.load()


@dataclass
class StandIn:
    """A channel's API as far as the outbox can tell: it answers each account as told."""

    profile: ChannelProfile
    answers: dict[str, DeliveryResult] = field(default_factory=dict)
    sent: list[tuple[str, Rendered]] = field(default_factory=list)

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        result = self.answers.get(account_id, DELIVERED)
        if result.outcome is DeliveryOutcome.DELIVERED:
            self.sent.append((account_id, message))
        return result


@dataclass
class VkStandIn(StandIn):
    """VK also answers ``messages.isMessagesFromGroupAllowed``."""

    allowed: dict[str, bool] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def allows(self, account_id: str) -> bool | None:
        self.asked.append(account_id)
        return self.allowed.get(account_id, True)


BLOCKED = DeliveryResult(DeliveryOutcome.UNREACHABLE, detail="Forbidden: bot was blocked by the user")
BOUNCED = DeliveryResult(DeliveryOutcome.UNREACHABLE, detail="bounced: 550 5.1.1 mailbox unavailable")


@pytest.fixture
def channels() -> dict[ChannelName, StandIn]:
    return {
        TELEGRAM: StandIn(ChannelProfile(TELEGRAM, "Telegram", TextFormat.HTML, max_text=4096)),
        VK: VkStandIn(ChannelProfile(VK, "VK", TextFormat.PLAIN, max_text=4096)),
        EMAIL: StandIn(ChannelProfile(EMAIL, "E-mail", TextFormat.LETTER, max_text=100_000, cost_kopecks=1,
                                      identity=Identity.MAILBOX)),
        SMS: StandIn(ChannelProfile(SMS, "SMS", TextFormat.BRIEF, max_text=480, buttons=False, cost_kopecks=350,
                                    identity=Identity.PHONE)),
    }


def outbox_for(store: Store, channels: dict[ChannelName, StandIn], clock: Clock,
               quiet: str = "") -> Outbox:
    return Outbox(store, TEMPLATES, channels, clock=clock, worker_id="w1",  # type: ignore[arg-type]
                  policy=standard_policy(ZoneInfo("Europe/Moscow"), QuietHours.parse(quiet)))


async def person_everywhere(store: Store, clock: Clock, *, seen: dict[ChannelName, timedelta] | None = None) -> int:
    """A person with a Telegram and a VK chat, a verified e-mail and a verified phone."""
    seen = seen or {TELEGRAM: timedelta(hours=1), VK: timedelta(days=2)}
    now = clock()
    async with store.transaction() as tx:
        person = await tx.people.create("ru", now)
        for channel, account in ((TELEGRAM, "1001"), (VK, "2001"), (EMAIL, "anna@example.ru"),
                                 (SMS, "+79123456789")):
            added = await tx.people.add_account(person.id, channel, account, "", now)
            if channel in seen:
                added.last_seen_at = now - seen[channel]
            if channel in (EMAIL, SMS):
                added.verified_at = now - timedelta(days=30)
            await tx.people.touch_account(added)
        return person.id


async def notify(store: Store, outbox: Outbox, person_id: int, *, at: datetime, **extra: object) -> int:
    async with store.transaction() as tx:
        queued = tx.messages.enqueue(OutgoingMessage(person_id, "notify.please_answer", {"text": "Вы выиграли!"},
                                                     "ru", **extra), at)  # type: ignore[arg-type]
    await outbox.claim_due()
    assert await outbox.drained(10)
    return queued.id


async def status_of(store: Store, message_id: int) -> MessageStatus:
    async with store.transaction() as tx:
        return next(e.status for e in await tx.messages.entries() if e.id == message_id)


async def decisions(store: Store, message_id: int):
    async with store.transaction() as tx:
        return list(reversed(await tx.routes.decisions(message_id=message_id)))


async def test_the_most_recently_active_channel_is_chosen_and_the_choice_explained(store, channels, clock) -> None:
    person = await person_everywhere(store, clock)
    message = await notify(store, outbox_for(store, channels, clock), person, at=clock())
    assert [a for a, _ in channels[TELEGRAM].sent] == ["1001"]
    [decision] = await decisions(store, message)
    assert (decision.channel, decision.account_id, decision.outcome) == (TELEGRAM, "1001", "delivered")
    scores = {c.channel: c.score for c in decision.candidates}
    assert scores[TELEGRAM] > scores[VK] > scores[SMS]  # SMS: never active in chat, and it costs money
    telegram = next(c for c in decision.candidates if c.channel == TELEGRAM)
    assert set(telegram.factors) >= {"recency", "success", "answers"} and telegram.outcome == "delivered"


async def test_blocked_in_telegram_gets_it_in_vk_then_email_then_sms(store, channels, clock) -> None:
    person = await person_everywhere(store, clock)
    outbox = outbox_for(store, channels, clock)
    channels[TELEGRAM].answers["1001"] = BLOCKED
    first = await notify(store, outbox, person, at=clock())
    assert [a for a, _ in channels[VK].sent] == ["2001"]
    channels[VK].allowed["2001"] = False  # type: ignore[attr-defined]
    clock.advance(minutes=1)
    async with store.transaction() as tx:  # VK was delivered before: a notice there is no longer a first one
        await tx.people.mark_unreachable(VK, "2001", clock(), "messages from the community not allowed")
    second = await notify(store, outbox, person, at=clock())
    assert [a for a, _ in channels[EMAIL].sent] == ["anna@example.ru"]
    channels[EMAIL].answers["anna@example.ru"] = BOUNCED
    third = await notify(store, outbox, person, at=clock())
    assert [a for a, _ in channels[SMS].sent] == ["+79123456789"]
    assert len(channels[SMS].sent[0][1].text) <= 480 and not channels[SMS].sent[0][1].buttons

    [one] = await decisions(store, first)
    assert [(c.channel, c.outcome) for c in one.candidates][:2] == [
        (TELEGRAM, "unreachable Forbidden: bot was blocked by the user"), (VK, "delivered")]
    [three] = await decisions(store, third)
    reasons = {c.channel: c.dropped or c.outcome for c in three.candidates}
    assert reasons[TELEGRAM].startswith("Forbidden: bot was blocked by the user (since")
    assert reasons[VK].startswith("messages from the community not allowed")
    assert reasons[EMAIL] == "unreachable bounced: 550 5.1.1 mailbox unavailable"
    assert reasons[SMS] == "delivered" and three.channel == SMS
    async with store.transaction() as tx:
        email = next(a for a in await tx.people.accounts_of(person) if a.channel == EMAIL)
    assert email.unreachable_reason.startswith("bounced") and (await status_of(store, second)) is not None


async def test_vk_is_asked_before_a_first_unsolicited_message_and_a_refusal_moves_on(store, channels, clock) -> None:
    person = await person_everywhere(store, clock, seen={VK: timedelta(minutes=5), TELEGRAM: timedelta(days=9)})
    channels[VK].allowed["2001"] = False  # type: ignore[attr-defined]
    message = await notify(store, outbox_for(store, channels, clock), person, at=clock())
    assert channels[VK].asked == ["2001"] and not channels[VK].sent  # type: ignore[attr-defined]
    assert [a for a, _ in channels[TELEGRAM].sent] == ["1001"]
    [decision] = await decisions(store, message)
    vk = next(c for c in decision.candidates if c.channel == VK)
    assert vk.outcome == "unreachable messages from the community not allowed"


async def test_the_stated_preference_beats_recency(store, channels, clock) -> None:
    person = await person_everywhere(store, clock)
    async with store.transaction() as tx:
        await tx.routes.prefer(person, EMAIL, clock())
    message = await notify(store, outbox_for(store, channels, clock), person, at=clock())
    assert [a for a, _ in channels[EMAIL].sent] == ["anna@example.ru"] and not channels[TELEGRAM].sent
    [decision] = await decisions(store, message)
    assert next(c for c in decision.candidates if c.channel == EMAIL).factors["preference"] == 100


async def test_unverified_addresses_and_numbers_are_never_written_to(store, channels, clock) -> None:
    async with store.transaction() as tx:
        person = await tx.people.create("ru", clock())
        await tx.people.add_account(person.id, EMAIL, "typed@example.ru", "", clock())
        await tx.people.add_account(person.id, SMS, "+79990000000", "", clock())
    message = await notify(store, outbox_for(store, channels, clock), person.id, at=clock())
    assert not channels[EMAIL].sent and not channels[SMS].sent
    assert await status_of(store, message) is MessageStatus.UNREACHABLE
    [decision] = await decisions(store, message)
    assert {c.dropped for c in decision.candidates} == {"not verified"}


async def test_a_notice_waits_for_the_end_of_quiet_hours_in_the_persons_zone(store, channels, clock) -> None:
    clock.now = datetime(2026, 11, 23, 20, 30, tzinfo=ZoneInfo("UTC"))  # 23:30 in Moscow
    person = await person_everywhere(store, clock)
    outbox = outbox_for(store, channels, clock, quiet="22:00-09:00")
    message = await notify(store, outbox, person, at=clock(), bulk=True)
    assert not channels[TELEGRAM].sent and await status_of(store, message) is MessageStatus.PENDING
    [decision] = await decisions(store, message)
    assert decision.outcome == "quiet_hours" and "06:00 UTC" in decision.detail  # 09:00 in Moscow
    async with store.transaction() as tx:  # Vladivostok: 07:30 the next morning, still quiet there
        await tx.routes.set_time_zone(person, "Asia/Vladivostok", clock())
    clock.advance(hours=9, minutes=30)  # 06:00 UTC: 09:00 in Moscow, 16:00 in Vladivostok
    await outbox.claim_due()
    assert await outbox.drained(10)
    assert [a for a, _ in channels[TELEGRAM].sent] == ["1001"]


async def test_an_unanswered_notice_escalates_to_the_next_channel_until_answered(store, channels, clock) -> None:
    person = await person_everywhere(store, clock)
    outbox = outbox_for(store, channels, clock)
    message = await notify(store, outbox, person, at=clock(), ack_window_seconds=3600,
                           deadline=clock() + timedelta(days=2))
    assert [a for a, _ in channels[TELEGRAM].sent] == ["1001"]
    assert await status_of(store, message) is MessageStatus.AWAITING_ACK
    assert any(f"/ack {message}" == b.payload for row in channels[TELEGRAM].sent[0][1].buttons for b in row)
    clock.advance(minutes=59)
    await outbox.claim_due()
    assert await outbox.drained(10) and len(channels[TELEGRAM].sent) == 1 and not channels[VK].sent
    clock.advance(minutes=2)  # the window is over: the next channel
    await outbox.claim_due()
    assert await outbox.drained(10)
    assert [a for a, _ in channels[VK].sent] == ["2001"] and len(channels[TELEGRAM].sent) == 1
    async with store.transaction() as tx:
        assert await tx.messages.acknowledge(message, person, clock())
    clock.advance(hours=2)
    await outbox.claim_due()
    assert await outbox.drained(10)
    assert len(channels[VK].sent) == 1 and not channels[EMAIL].sent
    assert await status_of(store, message) is MessageStatus.ACKNOWLEDGED
    rounds = await decisions(store, message)
    assert [(d.round, d.channel) for d in rounds] == [(0, TELEGRAM), (1, VK)]
    assert next(c for c in rounds[1].candidates if c.channel == TELEGRAM).dropped == "already tried, no answer"


async def test_a_notice_nobody_answers_is_unreached_at_its_deadline(store, channels, clock) -> None:
    person = await person_everywhere(store, clock)
    outbox = outbox_for(store, channels, clock)
    message = await notify(store, outbox, person, at=clock(), ack_window_seconds=600,
                           deadline=clock() + timedelta(minutes=25))
    for _ in range(3):
        clock.advance(minutes=10, seconds=1)
        await outbox.claim_due()
        assert await outbox.drained(10)
    sent = [(c, a) for c, s in channels.items() for a, _ in s.sent]
    assert sent[:3] == [(TELEGRAM, "1001"), (VK, "2001"), (EMAIL, "anna@example.ru")]
    assert await status_of(store, message) is MessageStatus.UNREACHED
