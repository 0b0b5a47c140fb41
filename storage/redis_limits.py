"""The sending limiter in Redis (``REDIS_URL``): every worker of every process draws on the same buckets.

The algorithm is ``core.limits``' GCRA, run as one Lua script so that taking from several
buckets is atomic across processes; time is Redis's own clock, so processes on machines whose
clocks differ still agree. Each bucket expires once it is back at rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from core.errors import CoreError
from core.limits import Limit, Rate

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


class LimiterUnavailable(CoreError):
    """Redis did not answer: the send waits rather than breaking the channel's limits."""


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "promo:rate:") -> None:
        # a bounded pool: thousands of lanes asking at once wait for a connection rather than open thousands
        pool = BlockingConnectionPool.from_url(url, max_connections=32, timeout=10, socket_timeout=5,
                                               socket_connect_timeout=5)
        self.redis: Redis = Redis(connection_pool=pool)
        self.prefix = prefix
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._pause = self.redis.register_script(_PAUSE)

    async def acquire(self, limits: Sequence[Limit], *, bulk: bool = False) -> float:
        keys = [self.prefix + key for key, _ in limits]
        args: list[float] = []
        for _, rate in limits:
            args += [rate.interval * 1000, rate.tolerance(bulk) * 1000]
        try:
            wait_ms = float(await self._acquire(keys=keys, args=args))
        except RedisError as e:
            raise LimiterUnavailable(f"the rate limiter's Redis did not answer: {e}") from e
        return wait_ms / 1000

    async def pause(self, key: str, rate: Rate, seconds: float) -> None:
        try:
            await self._pause(keys=[self.prefix + key], args=[seconds * 1000, rate.tolerance(False) * 1000])
        except RedisError as e:
            raise LimiterUnavailable(f"the rate limiter's Redis did not answer: {e}") from e

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as e:
            raise LimiterUnavailable(f"cannot reach Redis: {e}") from e

    async def close(self) -> None:
        await self.redis.aclose()
