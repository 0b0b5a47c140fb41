"""The sending limiter in Redis (``REDIS_URL``): every worker of every process draws on the same buckets.

The algorithm is ``core.limits``' GCRA, run as one Lua script so that taking from several
buckets is atomic across processes; time is Redis's own clock, so processes on machines whose
clocks differ still agree. Each bucket expires once it is back at rest.

While Redis is away, sending neither stops nor breaks the channels' limits: each process keeps the
buckets in its own memory at its share of every rate (one over the processes that were sharing
them, which each process counts in Redis every few seconds), tries Redis again with a growing
pause, and says once that it went and once that it came back. Back in Redis, it first hands the
buckets what it sent on its own, and keeps to its share until every process that was sharing has
marked itself back in the census (a few seconds at most): one that has not noticed yet still sends
on its own share, and the two together must stay within the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from core.errors import CoreError
from core.limits import Limit, Rate

log = logging.getLogger(__name__)

CENSUS_EVERY = 5.0  # seconds between this process's "still sharing" marks
CENSUS_TTL = 15.0  # a process not heard from for this long no longer counts among those sharing
RETRY_FIRST, RETRY_MAX = 0.5, 2.0  # the pause between attempts while Redis is away, doubling up to the max
SOCKET_TIMEOUT = 2.0  # a script takes microseconds: an answer this late means Redis is away, not busy
CARRY_BATCH = 500  # buckets handed back to Redis per script call
AWAY = (RedisError, OSError, TimeoutError)  # what "Redis did not answer" looks like

# KEYS: buckets; ARGV: interval and tolerance (ms) per key, in KEYS order. Returns 0 or the ms to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait = 0
local arrivals = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local over = tat - now - tolerance
  if over > wait then wait = over end
  arrivals[i] = tat + interval
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(arrivals[i]), 'PX', math.ceil(arrivals[i] - now) + 1000)
end
return '0'
"""

# KEYS[1]: the bucket; ARGV: pause and tolerance (ms).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local until_ = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < until_ then tat = until_ end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 1000)
return 1
"""

# KEYS[1]: the set of processes sharing the buckets; ARGV: this process, how long a mark counts (ms), and a moment
# (ms, Redis's clock). Returns how many share them, how many of those marked since that moment, and now.
_CENSUS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCOUNT', KEYS[1], ARGV[3], '+inf'), now}
"""

# KEYS: buckets; ARGV: how far ahead of now each one's sends made here reach (ms): no bucket is left behind them.
_CARRY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
for i, key in ipairs(KEYS) do
  local tat = now + tonumber(ARGV[i])
  if tonumber(redis.call('GET', key) or 0) < tat then
    redis.call('SET', key, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
  end
end
return 1
"""


class LimiterUnavailable(CoreError):
    """Redis did not answer (at start-up, where the platform refuses to start without it)."""


def share_of(rate: Rate, share: float) -> Rate:
    """``share`` of a rate, its burst with it (at least one send). A bucket lets one send more than its rate
    through in some seconds (the one at the second's edge, see ``core.limits.CATCH_UP``); a shared bucket does
    that once, but each process's own bucket would do it again: a share of 2/s or more gives that send up."""
    if share >= 1:
        return rate
    per_second = rate.per_second * share
    if per_second >= 2:
        per_second -= 1
    return Rate(per_second * rate.seconds, rate.seconds, max(1, math.floor(rate.burst * share)))


class OwnBuckets:
    """The buckets in this process while Redis is away. A bucket this process drew on just before starts where
    that left it (the shared one was busy: it would not have let a burst through either); any other starts at
    rest."""

    def __init__(self, share: float, clock: Callable[[], float], taken: dict[str, float]) -> None:
        self.share, self.clock, self.taken = share, clock, taken
        self.started = clock()
        self.tat: dict[str, float] = {}

    def acquire(self, limits: Sequence[Limit], bulk: bool) -> float:
        now, wait, arrivals = self.clock(), 0.0, []
        for key, shared in limits:
            rate = share_of(shared, self.share)
            tat = self.tat.get(key)
            if tat is None:
                tat = self.taken.get(key, now - rate.interval) + rate.interval
            tat = max(tat, now)
            wait = max(wait, tat - now - rate.tolerance(bulk))
            arrivals.append((key, tat + rate.interval))
        if wait > 0:
            return wait
        self.tat.update(arrivals)
        if len(self.tat) > 100_000:  # chats seen once: forget buckets back at rest
            self.tat = {k: v for k, v in self.tat.items() if v > now}
        return 0.0

    def pause(self, key: str, shared: Rate, seconds: float) -> None:
        rate = share_of(shared, self.share)
        self.tat[key] = max(self.tat.get(key, 0.0), self.clock() + seconds + rate.tolerance(False))

    def ahead(self) -> dict[str, float]:
        """Each bucket's lead over now (s): what Redis must not hand out again."""
        now = self.clock()
        return {key: tat - now for key, tat in self.tat.items() if tat > now}


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "promo:rate:", *, retry: tuple[float, float] = (RETRY_FIRST, RETRY_MAX),
                 census_every: float = CENSUS_EVERY, socket_timeout: float = SOCKET_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # a bounded pool: thousands of lanes asking at once wait for a connection rather than open thousands
        pool = BlockingConnectionPool.from_url(url, max_connections=32, timeout=10, socket_timeout=socket_timeout,
                                               socket_connect_timeout=socket_timeout)
        self.redis: Redis = Redis(connection_pool=pool)
        self.prefix = prefix
        self.member = uuid.uuid4().hex  # this process, in the census
        self.retry, self.census_every, self.clock = retry, census_every, clock
        # the longest a process back in Redis keeps to its share, waiting for the others to be back too: by then
        # each has tried Redis again (one that has not is gone)
        self.rejoin_seconds = retry[1] + 2 * socket_timeout + 1.0
        self.sharers = 1  # processes sharing the buckets, at the last census
        self.own: OwnBuckets | None = None  # set while Redis is away
        self._taken: dict[str, float] = {}  # when this process last drew on each bucket in Redis
        self._back_since: int | None = None  # back in Redis at this moment (Redis's ms), and keeping to the share
        self._share_until = 0.0  # ... at the longest until then
        self._share, self._sharers_when_away = 1.0, 1
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._pause = self.redis.register_script(_PAUSE)
        self._census = self.redis.register_script(_CENSUS)
        self._carry = self.redis.register_script(_CARRY)
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def away(self) -> bool:
        return self.own is not None

    @property
    def rejoining(self) -> bool:
        """Back in Redis but on its share still: another process may still be sending on its own."""
        return self._back_since is not None and self.clock() < self._share_until

    async def acquire(self, limits: Sequence[Limit], *, bulk: bool = False) -> float:
        self._watch()
        if self.own is None:
            keys, args = [self.prefix + key for key, _ in limits], []
            rejoining = self.rejoining
            for _, rate in limits:
                rate = share_of(rate, self._share) if rejoining else rate
                args += [rate.interval * 1000, rate.tolerance(bulk) * 1000]
            try:
                wait = float(await self._acquire(keys=keys, args=args)) / 1000
            except AWAY as e:
                self._went_away(e)
            else:
                if wait <= 0:
                    now = self.clock()
                    for key, _ in limits:
                        self._taken[key] = now
                return wait
        assert self.own is not None
        return self.own.acquire(limits, bulk)

    async def pause(self, key: str, rate: Rate, seconds: float) -> None:
        self._watch()
        if self.own is None:
            try:
                await self._pause(keys=[self.prefix + key], args=[seconds * 1000, rate.tolerance(False) * 1000])
                return
            except AWAY as e:
                self._went_away(e)
        assert self.own is not None
        self.own.pause(key, rate, seconds)

    async def ping(self) -> None:
        """Redis answers (start-up refuses to go on without it); this process is counted among the sharers."""
        try:
            await self.redis.ping()
            await self._count_sharers()
        except AWAY as e:
            raise LimiterUnavailable(f"cannot reach Redis: {e}") from e
        self._watch()

    async def _count_sharers(self) -> tuple[int, int]:
        """Mark this process as sharing; (how many share, Redis's now in ms). Ends the rejoining once every sharer
        has marked since this process came back."""
        sharers, fresh, now = await self._census(keys=[self.prefix + "sharers"], args=[
            self.member, int(CENSUS_TTL * 1000), self._back_since or 0])
        self.sharers = max(int(sharers), 1)
        # those sharing when Redis went, not now: the marks of any still away may have expired meanwhile
        if self._back_since is not None and int(fresh) >= self._sharers_when_away:
            self._back_since = None
        return self.sharers, int(now)

    def _went_away(self, error: BaseException) -> None:
        if self.own is not None:
            return
        self._share, self._sharers_when_away = 1 / self.sharers, self.sharers
        self._back_since = None
        self.own = OwnBuckets(self._share, self.clock, self._taken)
        self._taken = {}
        log.warning("the rate limiter's Redis is away (%s): this process sends at 1/%d of every limit on its own "
                    "until it is back", str(error) or type(error).__name__, self.sharers)
        self._wake.set()

    async def _came_back(self, now: int) -> None:
        own = self.own
        assert own is not None
        ahead = list(own.ahead().items())
        for start in range(0, len(ahead), CARRY_BATCH):
            batch = ahead[start:start + CARRY_BATCH]
            await self._carry(keys=[self.prefix + key for key, _ in batch], args=[lead * 1000 for _, lead in batch])
        self.own = None
        if self._share < 1:
            self._back_since, self._share_until = now, self.clock() + self.rejoin_seconds
        log.warning("the rate limiter's Redis is back after %.0f s: the limits are shared again",
                    self.clock() - own.started)

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._keep_watch())

    async def _keep_watch(self) -> None:
        """Count this process in Redis every ``census_every`` (often while rejoining); while Redis is away, try it
        with a growing pause."""
        pause = self.retry[0]
        while True:
            try:
                _, now = await self._count_sharers()
                if self.own is not None:
                    await self._came_back(now)
            except AWAY as e:
                self._went_away(e)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.retry[1])
                continue
            pause = self.retry[0]
            horizon = self.clock() - 2 * CENSUS_EVERY  # past any bucket's interval: no longer telling
            self._taken = {key: at for key, at in self._taken.items() if at > horizon}
            self._wake.clear()
            with contextlib.suppress(TimeoutError):  # or at once, when a send finds Redis away
                await asyncio.wait_for(self._wake.wait(), self.retry[0] if self.rejoining else self.census_every)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self.own is None:
            with contextlib.suppress(*AWAY):  # no longer among the sharers (else it counts until its mark expires)
                await self.redis.zrem(self.prefix + "sharers", self.member)
        await self.redis.aclose()
