"""Sending limits: GCRA buckets in this process or in the real Redis (shared by every process), and the turns
that let replies go before bulk notices."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bots.telegram import TelegramChannel, TelegramSettings
from bots.vk import VkChannel, VkSettings
from core.limits import InProcessLimiter, Limiter, Rate, Turns
from storage.redis_limits import RedisLimiter
from tests.redis_guard import REDIS_PRESENT, REDIS_URL

ROOT = Path(__file__).parents[1]


@pytest.fixture(params=["in_process", "redis"])
def limiter_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def limiters(limiter_kind: str):
    """A factory of limiters sharing one state: two of them are two processes' views of the same buckets."""
    if limiter_kind == "in_process":
        shared = InProcessLimiter()
        yield lambda: shared
        return
    if not REDIS_PRESENT:
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    made: list[RedisLimiter] = []

    def make() -> RedisLimiter:
        made.append(RedisLimiter(REDIS_URL, prefix=prefix))
        return made[-1]

    yield make
    for limiter in made:
        await limiter.close()


async def taken_within(limiter: Limiter, seconds: float, limits, *, bulk: bool = False) -> int:
    deadline, taken = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        wait = await limiter.acquire(limits, bulk=bulk)
        if wait <= 0:
            taken += 1
        else:
            await asyncio.sleep(min(wait, deadline - time.monotonic(), 0.05) if deadline > time.monotonic() else 0)
    return taken


async def test_a_bucket_lets_its_burst_through_then_its_rate(limiters) -> None:
    limiter = limiters()
    bucket = [("bot", Rate(20, burst=5))]
    assert [await limiter.acquire(bucket) for _ in range(5)] == [0.0] * 5
    assert await limiter.acquire(bucket) > 0.0
    taken = await taken_within(limiter, 1.0, bucket)
    assert 17 <= taken <= 21  # 20 per second once the burst is spent


async def test_two_processes_share_one_budget(limiters) -> None:
    first, second = limiters(), limiters()
    bucket = [("vk", Rate(20))]
    together = await asyncio.gather(taken_within(first, 1.0, bucket), taken_within(second, 1.0, bucket))
    assert 17 <= sum(together) <= 22  # one budget, however the two share it


async def test_a_send_takes_from_the_chat_and_the_bot_or_from_neither(limiters) -> None:
    limiter = limiters()
    chat, bot = ("telegram:1", Rate(1)), ("telegram", Rate(30, burst=2))
    assert await limiter.acquire([bot, chat]) == 0.0
    assert await limiter.acquire([bot, chat]) >= 0.4  # the chat waits (a second, less the catch-up allowance)
    assert await limiter.acquire([bot]) == 0.0  # and the bot's second send was not spent on it


async def test_bulk_leaves_part_of_the_burst_to_replies(limiters) -> None:
    limiter = limiters()
    bucket = [("bot", Rate(1, burst=10))]
    bulk = [await limiter.acquire(bucket, bulk=True) for _ in range(10)]
    assert bulk.count(0.0) == 8  # two of ten are kept for replies
    assert [await limiter.acquire(bucket) for _ in range(2)] == [0.0, 0.0]
    assert await limiter.acquire(bucket) > 0.0


async def test_retry_after_holds_every_sender(limiters) -> None:
    first, second = limiters(), limiters()
    rate = Rate(30)
    await first.pause("telegram", rate, 1.5)
    wait = await second.acquire([("telegram", rate)])
    assert 1.3 < wait <= 1.6


async def test_replies_get_their_turn_before_bulk_notices() -> None:
    turns = Turns(InProcessLimiter(), "bot", Rate(20))
    order: list[str] = []

    async def send(name: str, bulk: bool) -> None:
        await turns.wait(bulk=bulk)
        order.append(name)

    bulk = [asyncio.create_task(send(f"bulk{i}", True)) for i in range(10)]
    await asyncio.sleep(0.12)  # a few bulk notices went; the rest wait
    replies = [asyncio.create_task(send(f"reply{i}", False)) for i in range(3)]
    await asyncio.gather(*bulk, *replies)
    first_reply = order.index("reply0")
    assert order[first_reply:first_reply + 3] == ["reply0", "reply1", "reply2"]
    assert first_reply <= 5  # they did not wait behind the remaining notices


def test_the_messengers_pace_below_their_limits_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:t")
    monkeypatch.setenv("VK_BOT_TOKEN", "v")
    monkeypatch.setenv("VK_GROUP_ID", "7")
    assert TelegramChannel(TelegramSettings(), "polling").profile.rate == Rate(28.8)  # 30/s per bot
    assert VkChannel(VkSettings(), "polling").profile.rate == Rate(18.2)  # 20 requests/s, one left to a late request
    monkeypatch.setenv("TELEGRAM_RATE_PER_SECOND", "100")  # a limit raised by @BotSupport
    monkeypatch.setenv("VK_RATE_PER_SECOND", "15")
    assert TelegramChannel(TelegramSettings(), "polling").profile.rate == Rate(100)
    assert VkChannel(VkSettings(), "polling").profile.rate == Rate(15)


@pytest.mark.skipif(not REDIS_PRESENT, reason="needs a Redis that answers, to leave its tests out")
def test_deselecting_the_redis_tests_fails_the_run() -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_limits.py",
                             "-k", "not redis and not deselecting"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stdout
    assert "Redis answers" in result.stdout
