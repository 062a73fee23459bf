"""Where answers are kept: this process's memory (LRU, bounded by bytes) or Redis (shared by replicas).

Both take and give opaque bytes with a time to live. A backend may raise; the
plugin treats any failure as a miss and never fails the request over it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis


class Backend(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: int) -> None: ...
    async def close(self) -> None: ...


class MemoryBackend:
    """Least recently used first out, once the stored bytes pass *max_bytes*."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= time.monotonic():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        if len(value) > self.max_bytes:
            return
        if key in self._items:
            self._drop(key)
        self._items[key] = (time.monotonic() + ttl, value)
        self.used += len(value)
        while self.used > self.max_bytes:
            self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        _, value = self._items.pop(key)
        self.used -= len(value)

    async def close(self) -> None:
        self._items.clear()
        self.used = 0


class RedisBackend:
    def __init__(self, url: str, prefix: str, timeout: float) -> None:
        # Imported here: redis (and the OpenTelemetry SDK it pulls in) costs ~130 ms and ~8 MB at
        # start-up, and only a config with ``response_cache.backend: redis`` uses it.
        import redis.asyncio as aioredis

        self.prefix = prefix
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False)

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self.prefix + key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        await self._redis.set(self.prefix + key, value, ex=ttl)

    async def close(self) -> None:
        await self._redis.aclose()
