"""One chat's "too many requests" holds that chat; several chats' at once lower the channel's rate, which comes back
step by step; the bot's own limit, when the channel says so, pauses every sender."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import DeliveryOutcome, DeliveryResult, ThrottleScope
from core.limits import InProcessLimiter, Rate
from core.pacing import LONG_HOLD, ChatHeld, Pacer
from core.ports import QueuedMessage
from core.throttle import (
    CALM,
    FLOOR,
    GLOBAL_SIGN,
    LOWER_AT_MOST_EVERY,
    LOWER_BY,
    RAISE_STEP,
    SIGN_WINDOW,
    AdaptiveRate,
    ChatHolds,
)

PROFILE = ChannelProfile(ChannelName("telegram"), "Telegram", TextFormat.HTML, 4096, rate=Rate(30),
                         per_chat=Rate(1, burst=3))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttled(retry_after: float | None = 2.0, scope: ThrottleScope | None = None) -> DeliveryResult:
    return DeliveryResult(DeliveryOutcome.RETRY, retry_after=retry_after, detail="429", throttled=True, scope=scope)


def test_one_chat_throttled_again_and_again_never_lowers_the_rate() -> None:
    clock = Clock()
    rate = AdaptiveRate(Rate(30), clock)
    for _ in range(20):
        assert rate.chat_throttled("1001") is False
        clock.now += 0.5
    assert rate.rate() == Rate(30) and rate.lowered == 0


def test_several_chats_within_the_window_lower_the_rate_and_quiet_brings_it_back_step_by_step() -> None:
    clock = Clock()
    rate = AdaptiveRate(Rate(30), clock)
    signs = [rate.chat_throttled(str(chat)) for chat in range(GLOBAL_SIGN)]
    assert signs == [False] * (GLOBAL_SIGN - 1) + [True]
    assert rate.rate().count == pytest.approx(30 * LOWER_BY)
    clock.now += CALM
    assert rate.rate().count == pytest.approx(30 * (LOWER_BY + RAISE_STEP))
    clock.now += CALM * 100
    assert rate.rate() == Rate(30)


def test_flooded_chats_answered_429_again_and_again_are_their_own_windows_not_the_bot_s_limit() -> None:
    clock = Clock()
    rate = AdaptiveRate(Rate(30), clock)
    flooded = [str(chat) for chat in range(10)]
    for chat in flooded:  # the first time, ten chats at once look like the bot's limit
        rate.chat_throttled(chat)
    first = rate.lowered
    assert first >= 1
    for _ in range(30):  # then the same chats again and again, as their windows end and they are tried again
        clock.now += 2.0
        for chat in flooded:
            assert rate.chat_throttled(chat) is False
    assert rate.lowered == first and rate.rate() == Rate(30)  # and the rate came back


def test_chats_throttled_further_apart_than_the_window_are_each_their_own() -> None:
    clock = Clock()
    rate = AdaptiveRate(Rate(30), clock)
    for chat in range(GLOBAL_SIGN * 3):
        assert rate.chat_throttled(str(chat)) is False
        clock.now += SIGN_WINDOW / (GLOBAL_SIGN - 1) + 0.01
    assert rate.lowered == 0


def test_a_burst_of_throttles_lowers_once_per_second_and_never_below_the_floor() -> None:
    clock = Clock()
    rate = AdaptiveRate(Rate(30), clock)
    for _ in range(50):
        rate.bot_throttled()
    assert rate.lowered == 1
    for _ in range(50):
        clock.now += LOWER_AT_MOST_EVERY
        rate.bot_throttled()
    assert rate.rate().count == pytest.approx(30 * FLOOR)


def test_a_hold_is_per_chat_and_ends() -> None:
    clock = Clock()
    holds = ChatHolds(clock)
    holds.hold("telegram", "1", 2.0)
    assert holds.left("telegram", "1") == 2.0 and holds.left("telegram", "2") == 0.0
    assert holds.left("vk", "1") == 0.0
    clock.now += 2.5
    assert holds.left("telegram", "1") == 0.0


def message(id_: int = 1) -> QueuedMessage:
    return QueuedMessage(id=id_, person_id=1, template="common.help", params={}, locale="ru",
                         channel=ChannelName("telegram"), account_id="1001")


def pacer() -> Pacer:
    return Pacer(InProcessLimiter(), lambda: datetime.now(UTC))


async def test_a_throttled_chat_is_held_and_the_others_are_not() -> None:
    paced = pacer()
    await paced.heed(PROFILE, "1001", throttled(3.0))
    assert paced.holds.left("telegram", "1001") > 2.5
    assert paced.holds.left("telegram", "1002") == 0.0
    # the bot's own bucket was not paused: another chat's send goes at once
    assert await paced.limiter.acquire([("telegram", PROFILE.rate)]) == 0.0  # type: ignore[list-item]
    assert paced.rates["telegram"].lowered == 0


async def test_a_long_hold_is_refused_at_the_turn_so_the_message_is_postponed() -> None:
    paced = pacer()
    await paced.heed(PROFILE, "1001", throttled(LONG_HOLD * 60))
    with pytest.raises(ChatHeld) as held:
        await paced.take_turn(PROFILE, "1001", message(), None)
    assert held.value.seconds > LONG_HOLD
    await paced.take_turn(PROFILE, "1002", message(2), None)  # another chat: goes


async def test_the_bot_s_own_limit_said_so_pauses_every_chat_and_lowers_the_rate() -> None:
    paced = pacer()
    await paced.heed(PROFILE, "1001", throttled(1.0, ThrottleScope.BOT))
    assert await paced.limiter.acquire([("telegram", PROFILE.rate)]) > 0.5  # type: ignore[list-item]
    assert paced.rates["telegram"].lowered == 1 and paced.holds.left("telegram", "1001") == 0.0


async def test_a_throttle_the_channel_says_is_one_chat_s_never_lowers_the_rate() -> None:
    paced = pacer()
    for chat in range(GLOBAL_SIGN * 3):
        await paced.heed(PROFILE, str(2000 + chat), throttled(None, ThrottleScope.CHAT))
    assert paced.rates["telegram"].lowered == 0


async def test_throttles_from_several_chats_lower_the_rate_the_turns_use() -> None:
    paced = pacer()
    for chat in range(GLOBAL_SIGN):
        await paced.heed(PROFILE, str(2000 + chat), throttled(1.0))
    assert paced.rates["telegram"].lowered == 1
    await paced.take_turn(PROFILE, "3000", message(), None)
    assert paced._turns["telegram"].rate.count == pytest.approx(30 * LOWER_BY)
