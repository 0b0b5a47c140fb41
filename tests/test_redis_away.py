"""Redis away while the limits are shared through it: sending goes on at a safe rate of each process's own, never
above the channel's limit, and the limits are shared again once Redis is back.

First two ``RedisLimiter`` objects stand for two processes: each sends through ``core.limits.Turns``
(the outbox's own path) as fast as its limiter allows, with Redis refusing connections or, as in a
partition, not answering at all. Then two real ``run.py`` processes work through a backlog of
notices against the Telegram emulator, which refuses what goes above Telegram's 30 sends a second.
Both reach the machine's Redis only through a ``TcpProxy`` the test starts and cuts; the Redis
itself is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from bots.emulators.telegram_api import TelegramEmulator
from core.channels import ChannelName
from core.events import OutgoingMessage
from core.limits import CATCH_UP, Rate, Turns
from storage.database import create_engine
from storage.redis_limits import RedisLimiter
from storage.sql import SqlStore
from storage.tables import metadata
from tests.redis_guard import REDIS_PRESENT, REDIS_URL
from tests.tcp_proxy import Mode, TcpProxy
from tests.test_crash import PlatformProcess, free_port, until

RATE = Rate(20)  # the bot's rate, shared by both processes
# The shared bucket lets 1 + floor(rate + CATCH_UP) through in any second by Redis's clock; the test stamps each send
# a few milliseconds after Redis decided, so by its clock one more may show. The channel's limit sits there, as
# Telegram's 30/s sits above the 28.8/s the platform paces at by default.
CHANNEL_LIMIT = 2 + math.floor(RATE.count + CATCH_UP)
SHARED, AWAY_SECONDS, ALONE = 2.0, 4.0, 2.0
RETRY, TIMEOUT = (0.2, 1.0), 1.0  # the limiter's backoff and socket timeout, shortened: the test waits its rejoining


class Sender:
    """One process's sending loop: the time of every send it was let through."""

    def __init__(self, limiter: RedisLimiter) -> None:
        self.limiter = limiter
        self.sent: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        turns = Turns(self.limiter, "telegram", RATE)
        while True:
            await turns.wait(bulk=False)
            self.sent.append(asyncio.get_running_loop().time())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.sent if start <= t < end)


def busiest_second(times: list[float]) -> tuple[int, float]:
    """The most sends in any one second (as a channel counts them), and when that second began."""
    times = sorted(times)
    return max(((sum(1 for t in times[i:] if t < start + 1.0), start) for i, start in enumerate(times)),
               default=(0, 0.0))


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    if not REDIS_PRESENT:
        pytest.skip(f"no Redis at {REDIS_URL}")
    parts = urlsplit(REDIS_URL)
    running = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await running.start()
    yield running
    await running.close()


@pytest.mark.parametrize("limiter_kind", ["redis"])  # counted by the Redis guard: it must not be left out
@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
async def test_with_redis_away_two_processes_send_on_within_the_limit_and_share_it_again_once_it_is_back(
        proxy: TcpProxy, mode: Mode, limiter_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="storage.redis_limits")
    url = urlsplit(REDIS_URL)._replace(netloc=proxy.address).geturl()
    prefix = f"test:away:{uuid.uuid4().hex[:8]}:"
    first, second = (RedisLimiter(url, prefix, retry=RETRY, socket_timeout=TIMEOUT) for _ in range(2))
    loop = asyncio.get_running_loop()
    senders = [Sender(first), Sender(second)]
    try:
        for limiter in (first, second, first):
            await limiter.ping()  # as at start-up: each counts itself among the sharers
        assert (first.sharers, second.sharers) == (2, 2)
        started = loop.time()
        for sender in senders:
            sender.start()
        await asyncio.sleep(SHARED)
        proxy.cut(mode)
        cut_at = loop.time()
        await asyncio.sleep(AWAY_SECONDS)
        assert first.away and second.away
        await proxy.restore()
        restored_at = loop.time()
        back = await until(lambda: not first.away and not second.away, RETRY[1] + 2 * TIMEOUT + 1)
        assert back, "the limiters did not go back to Redis"
        back_at = loop.time()
        rejoined = await until(lambda: not first.rejoining and not second.rejoining, first.rejoin_seconds + 1)
        assert rejoined, "still on their shares, though both are back"
        assert loop.time() - back_at < first.rejoin_seconds, "each waited out the longest rejoining: the census " \
                                                            "did not tell them the other was back"
        await senders[1].stop()
        alone_at = loop.time()
        await asyncio.sleep(ALONE)
        await senders[0].stop()
        ended = loop.time()
    finally:
        for sender in senders:
            if sender._task is not None:
                await sender.stop()
        await first.close()
        await second.close()

    everything = senders[0].sent + senders[1].sent
    most, at = busiest_second(everything)
    assert most <= CHANNEL_LIMIT, f"{most} sends in the second from {at - cut_at:.2f}s after the cut (Redis back " \
                                     f"{restored_at - cut_at:.2f}s, limiters back {back_at - cut_at:.2f}s after it), " \
                                     f"above the channel's limit of {CHANNEL_LIMIT}"
    assert senders[0].between(started, cut_at) + senders[1].between(started, cut_at) <= SHARED * RATE.count + 2, \
        "before the cut the two did not share one budget"
    # Redis away: each on its own half, together the whole rate; never a stall longer than noticing it takes
    settled = cut_at + TIMEOUT + 0.5
    for sender in senders:
        rate_away = sender.between(settled, restored_at) / (restored_at - settled)
        assert rate_away >= 0.4 * RATE.count, f"{rate_away:.1f}/s while Redis was away: stalled"
    gaps = [b - a for a, b in zip(sorted(everything), sorted(everything)[1:], strict=False)
            if a < alone_at]
    assert max(gaps) <= TIMEOUT + 0.5, f"sending stood still for {max(gaps):.1f}s"
    # back in Redis and past the rejoining time: the one left sends at the whole rate, which it had to share before
    rate_alone = senders[0].between(alone_at + 0.2, ended) / (ended - alone_at - 0.2)
    assert rate_alone >= 0.85 * RATE.count, f"{rate_alone:.1f}/s alone once Redis was back: still on its share"
    assert back_at - restored_at <= RETRY[1] + 2 * TIMEOUT + 1
    messages = [record.getMessage() for record in caplog.records]
    went = [m for m in messages if "is away" in m]
    came = [m for m in messages if "Redis is back" in m]
    assert (len(went), len(came)) == (2, 2), messages  # once each way, per process
    assert all("1/2 of every limit" in m for m in went), went


# two real run.py processes -------------------------------------------------------------------------------------

E2E_REDIS_DB = 12  # a database of its own: the scale-out test uses 14, the limiter tests 15
E2E_PEOPLE = range(50_001, 51_201)  # more notices than the test has time to send: sending never runs dry
PACE, TELEGRAM_LIMIT = 27, 30  # as in the scale-out test: 90 % of Telegram's limit, which the emulator enforces
E2E_SHARED, E2E_AWAY, E2E_BACK = 6.0, 8.0, 8.0  # shared long enough for each process to have counted the other


async def seed_notices(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    store = SqlStore(engine)
    now = datetime.now(UTC)
    async with store.transaction() as tx:
        for user in E2E_PEOPLE:
            person = await tx.people.create("ru", now)
            account = await tx.people.add_account(person.id, ChannelName("telegram"), str(user), "", now)
            account.last_seen_at = now
            await tx.people.touch_account(account)
            tx.messages.enqueue(OutgoingMessage(person.id, "notify.announcement", {"text": f"notice {user}"}, "ru",
                                                bulk=True), now)
    await store.close()
    await engine.dispose()


@pytest.mark.parametrize("limiter_kind", ["redis"])  # both guards count it: neither Redis nor PostgreSQL left out
@pytest.mark.parametrize("sql_database", ["postgresql"])
async def test_two_platforms_send_on_within_telegrams_limit_while_redis_is_away_and_share_it_again_after(
        tmp_path: Path, proxy: TcpProxy, postgres_database: str, limiter_kind: str, sql_database: str,
        record_property: Callable[[str, object], None]) -> None:
    direct = Redis.from_url(urlsplit(REDIS_URL)._replace(path=f"/{E2E_REDIS_DB}").geturl())
    await direct.delete("promo:rate:sharers", "promo:rate:telegram")  # marks a killed earlier run may have left
    telegram = TelegramEmulator()
    await telegram.start()
    telegram.rate_limit = TELEGRAM_LIMIT
    for user in E2E_PEOPLE:
        telegram.set_user(user, f"User{user}")
    await seed_notices(postgres_database)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_", "MAX_", "OK_", "WHATSAPP_", "REDIS_"))}
    environment.update(DATABASE_URL=postgres_database, BOT_MODE="webhook", SANDBOX="false", PHOTO_WORKERS="1",
                       REDIS_URL=f"redis://{proxy.address}/{E2E_REDIS_DB}", QUIET_HOURS="off", WEB_HOST="127.0.0.1",
                       TELEGRAM_BOT_TOKEN="123456:redis-away", TELEGRAM_API_BASE=telegram.base_url,
                       WEBHOOK_PATH_SECRET="redis-away-webhook-secret", TELEGRAM_RATE_PER_SECOND=str(PACE))
    platforms = [PlatformProcess(tmp_path, {**environment, "WEB_PORT": str(free_port())}, name)
                 for name in ("first", "second")]

    def sends(start: float, end: float) -> int:
        return sum(1 for at, method, _ in telegram.calls if method == "sendMessage" and start <= at < end)

    def said(platform: PlatformProcess, words: str) -> int:
        return platform.log.read_text(errors="replace").count(words)

    try:
        await asyncio.gather(*(platform.start() for platform in platforms))
        await asyncio.sleep(E2E_SHARED)
        proxy.cut()
        cut_at = time.monotonic()
        await asyncio.sleep(E2E_AWAY)
        await proxy.restore()
        restored_at = time.monotonic()
        back = await until(lambda: all(said(platform, "Redis is back") for platform in platforms), 15, every=0.1)
        assert back, "\n".join(platform.log_tail() for platform in platforms)
        back_at = time.monotonic()
        tat_at_back = await direct.get("promo:rate:telegram")
        await asyncio.sleep(E2E_BACK)
        tat_later = await direct.get("promo:rate:telegram")
        ended = time.monotonic()
        for platform in platforms:
            platform.terminate()
        await asyncio.gather(*(platform.exit_code() for platform in platforms))
    finally:
        await asyncio.gather(*(platform.close() for platform in platforms))
        await telegram.stop()
        await direct.aclose()
    started = min(at for at, method, _ in telegram.calls if method == "sendMessage")
    rates = {"shared": sends(started + 1, cut_at) / (cut_at - started - 1),
             "away": sends(cut_at + 1, restored_at) / (restored_at - cut_at - 1),
             "back": sends(back_at + 2, ended) / (ended - back_at - 2)}  # past their rejoining
    record_property("sends_per_second", {phase: round(rate, 1) for phase, rate in rates.items()})
    assert telegram.too_many == 0, f"{telegram.too_many} sends refused by Telegram's limit: the processes together " \
                                   f"went above it ({rates})"
    assert rates["away"] >= 0.7 * PACE, f"sending slowed to {rates['away']:.1f}/s while Redis was away: stalled, " \
                                        f"or one process held the backlog while the other stood idle ({rates})"
    assert rates["back"] >= 0.7 * PACE, rates
    assert tat_at_back and tat_later and float(tat_later) > float(tat_at_back), \
        "the processes do not draw on Redis's bucket again"  # each send moves it on
    for platform in platforms:
        assert (said(platform, "Redis is away"), said(platform, "Redis is back")) == (1, 1), platform.log_tail()
        assert said(platform, "at 1/2 of every limit") == 1, platform.log_tail()
