"""The sliding-window log in Redis, shared by every replica (rules: see windows.py).

One Lua script per admit and one per settle, so each costs one round trip and
runs atomically on the server: concurrent requests from any number of
replicas never pass more than a limit. Time comes from the Redis server
(``TIME``), so replicas with skewed clocks still agree on the window.

Keys, all under the configured prefix and all with a TTL of the window (or of
the budget period) so idle subjects disappear by themselves::

    <prefix>w:<limit id>      sorted set: member (request id) -> admission time
    <prefix>w:<limit id>:a    hash: member -> amount, plus "~total"
    <prefix>b:<bucket>        integer nano-USD spent in one budget period
    <prefix>b:<bucket>:hz     sorted set: member -> when its hold lapses
    <prefix>b:<bucket>:h      hash: member -> nano-USD it holds, plus "~total"

For Redis Cluster put a hash tag in the prefix (``"{relaygate}:"``) so that the
keys of one request live in one slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis.asyncio as aioredis

from plugins.limits.rules import Limit
from plugins.limits.windows import BudgetCharge, Denial, Settlement

_COMMON = """
local function clock(arg)
  local now = tonumber(arg)
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  end
  return now
end
local function ts(x) return string.format('%.6f', x) end
local function evict(z, h, horizon)
  local total = tonumber(redis.call('HGET', h, '~total') or '0')
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', ts(horizon))
  if #old > 0 then
    for s = 1, #old, 1000 do
      local chunk = {unpack(old, s, math.min(s + 999, #old))}
      local amounts = redis.call('HMGET', h, unpack(chunk))
      for k = 1, #amounts do total = total - tonumber(amounts[k] or '0') end
      redis.call('HDEL', h, unpack(chunk))
    end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', ts(horizon))
    redis.call('HSET', h, '~total', total)
  end
  return total
end
local function add(z, h, member, now, amount, win)
  if redis.call('HEXISTS', h, member) == 1 then
    redis.call('HINCRBY', h, member, amount)
  else
    redis.call('ZADD', z, ts(now), member)
    redis.call('HSET', h, member, amount)
  end
  redis.call('HINCRBY', h, '~total', amount)
  local ttl = math.ceil(win * 1000) + 1000
  redis.call('PEXPIRE', z, ttl)
  redis.call('PEXPIRE', h, ttl)
end
"""

# KEYS: z1 h1 .. zn hn, then per budget: spent, holds zset, holds hash
# ARGV: now|'', member, n, (capacity window cost)*n, then per budget: (limit cost hold_seconds)
_ACQUIRE = _COMMON + """
local now, member, n = clock(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local m = (#KEYS - 2 * n) / 3
for j = 1, m do
  local k, a = 2 * n + 3 * (j - 1), 3 + 3 * n + 3 * (j - 1)
  local spent = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
  local limit, cost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local held = tonumber(redis.call('HGET', KEYS[k + 3], '~total') or '0')
  if spent + held + cost > limit then held = evict(KEYS[k + 2], KEYS[k + 3], now) end
  if spent >= limit or spent + held + cost > limit then
    return {'budget', j - 1, tostring(spent), '0', tostring(held)}
  end
end
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local cap, win, cost = tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2]), tonumber(ARGV[3 * i + 3])
  local total = evict(z, h, now - win)
  if total + cost > cap then
    local need, freed, retry = total + cost - cap, 0, win
    local items = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
    for k = 1, #items, 2 do
      freed = freed + tonumber(redis.call('HGET', h, items[k]) or '0')
      if freed >= need then
        retry = math.max(0, tonumber(items[k + 1]) + win - now)
        break
      end
    end
    return {'limit', i - 1, tostring(total), ts(retry), '0'}
  end
end
for i = 1, n do
  add(KEYS[2 * i - 1], KEYS[2 * i], member, now, tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 2]))
end
for j = 1, m do
  local k, a = 2 * n + 3 * (j - 1), 3 + 3 * n + 3 * (j - 1)
  local cost, hold = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if cost > 0 then
    local z, h = KEYS[k + 2], KEYS[k + 3]
    local old = tonumber(redis.call('HGET', h, member) or '0')
    redis.call('ZADD', z, ts(now + hold), member)
    redis.call('HSET', h, member, ARGV[a + 2])
    redis.call('HINCRBY', h, '~total', cost - old)
    local ttl = math.ceil(hold * 1000) + 1000
    for _, key in ipairs({z, h}) do
      if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
    end
  end
end
return false
"""

# KEYS: z1 h1 .. zn hn, then m spent buckets, then per hold: holds zset, holds hash
# ARGV: now|'', member, n, (reserved actual window extra)*n, m, (nano ttl)*m, release 0|1, (amount)*holds
_SETTLE = _COMMON + """
local now, member, n = clock(ARGV[1]), ARGV[2], tonumber(ARGV[3])
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 4 * i
  local reserved, actual, win = tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local score = false
  if member ~= '' then score = redis.call('ZSCORE', z, member) end
  if score and tonumber(score) > now - win then
    local cur = tonumber(redis.call('HGET', h, member) or '0')
    redis.call('HSET', h, member, actual)
    redis.call('HINCRBY', h, '~total', actual - cur)
  elseif actual > reserved then
    add(z, h, ARGV[base + 3], now, actual - reserved, win)
  end
end
local at = 4 + 4 * n
local m = tonumber(ARGV[at])
for j = 1, m do
  redis.call('INCRBY', KEYS[2 * n + j], ARGV[at + 2 * j - 1])
  redis.call('EXPIRE', KEYS[2 * n + j], ARGV[at + 2 * j])
end
local release = ARGV[at + 2 * m + 1] == '1'
local hk = 2 * n + m
for j = 1, (#KEYS - hk) / 2 do
  local z, h = KEYS[hk + 2 * j - 1], KEYS[hk + 2 * j]
  local held = redis.call('HGET', h, member)
  if held then
    local take = tonumber(held)
    if not release then take = math.min(take, tonumber(ARGV[at + 2 * m + 1 + j])) end
    redis.call('HINCRBY', h, '~total', -take)
    if release then
      redis.call('HDEL', h, member)
      redis.call('ZREM', z, member)
    else
      redis.call('HINCRBY', h, member, -take)
    end
  end
end
return false
"""

# KEYS: z h; ARGV: now|'' -> nano-USD held in a budget bucket now (tests, diagnostics)
_HELD = _COMMON + """
return tostring(evict(KEYS[1], KEYS[2], clock(ARGV[1])))
"""

# KEYS: z h; ARGV: now|'', window -> units in the window now (tests, diagnostics)
_USAGE = _COMMON + """
return tostring(evict(KEYS[1], KEYS[2], clock(ARGV[1]) - tonumber(ARGV[2])))
"""


class RedisBackend:
    """Windows and spend in Redis. *clock*: None uses the server's time (tests inject one)."""

    def __init__(self, url: str, prefix: str = "relaygate:", clock: Callable[[], float] | None = None,
                 client: aioredis.Redis | None = None) -> None:
        self.prefix = prefix
        self.clock = clock
        self.redis = client or aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0,
            health_check_interval=30)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._settle = self.redis.register_script(_SETTLE)
        self._usage = self.redis.register_script(_USAGE)
        self._held = self.redis.register_script(_HELD)

    def _now(self) -> str:
        return "" if self.clock is None else repr(self.clock())

    def _keys(self, limit: Limit) -> tuple[str, str]:
        z = f"{self.prefix}w:{limit.id}"
        return z, z + ":a"

    def _bucket_keys(self, bucket: str) -> tuple[str, str, str]:
        spent = f"{self.prefix}b:{bucket}"
        return spent, spent + ":hz", spent + ":h"

    async def acquire(self, member: str, charges: Sequence[tuple[Limit, int]],
                      budgets: Sequence[BudgetCharge]) -> Denial | None:
        keys: list[str] = []
        args: list[str | int | float] = [self._now(), member, len(charges)]
        for limit, cost in charges:
            keys.extend(self._keys(limit))
            args.extend((limit.capacity, limit.window_s, cost))
        for b in budgets:
            keys.extend(self._bucket_keys(b.bucket))
            args.extend((b.limit_nano, b.cost_nano, b.hold_s))
        r = await self._acquire(keys=keys, args=args)
        if not r:
            return None
        return Denial(r[0], int(r[1]), int(float(r[2])), float(r[3]), int(float(r[4])))

    async def settle(self, member: str, settlements: Sequence[Settlement],
                     spends: Sequence[tuple[str, int, int]], holds: Sequence[tuple[str, int]] = (),
                     release: bool = False) -> None:
        if not settlements and not spends and not holds:
            return
        keys: list[str] = []
        args: list[str | int | float] = [self._now(), member, len(settlements)]
        for limit, reserved, actual, extra in settlements:
            keys.extend(self._keys(limit))
            args.extend((reserved, actual, limit.window_s, extra))
        args.append(len(spends))
        for bucket, nano, ttl in spends:
            keys.append(f"{self.prefix}b:{bucket}")
            args.extend((nano, max(1, int(ttl))))
        args.append(int(release))
        for bucket, amount in holds:
            keys.extend(self._bucket_keys(bucket)[1:])
            args.append(amount)
        await self._settle(keys=keys, args=args)

    async def usage(self, limit: Limit) -> int:
        return int(float(await self._usage(keys=list(self._keys(limit)), args=[self._now(), limit.window_s])))

    async def spent(self, bucket: str) -> int:
        return int(await self.redis.get(f"{self.prefix}b:{bucket}") or 0)

    async def held(self, bucket: str) -> int:
        return int(float(await self._held(keys=list(self._bucket_keys(bucket)[1:]), args=[self._now()])))

    async def clear(self) -> int:
        """Delete every key under the prefix (tests, or resetting all limits)."""
        keys = [k async for k in self.redis.scan_iter(match=self.prefix + "*", count=1000)]
        return int(await self.redis.delete(*keys)) if keys else 0

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()
