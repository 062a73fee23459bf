"""The response cache: an endpoint with ``cache:`` answers a repeated request from a stored answer.

A pipeline stage, not a side path: ``relaygate_answer_request`` (after admission,
before any provider call) looks the request up; a hit is replayed by the core
(:mod:`proxy.answers`) in the client's own format and framing, and recorded as a
ledger row marked ``cache_hit`` with no provider cost and the saved cost. A miss
taps what the client is sent (``RESPONSE_TAPS``) and, once the answer completed
with 200, stores those bytes with the provider usage of the attempt.

``x-relaygate-cache: bypass`` skips the cache; ``use`` caches a request the
determinism rule would refuse (:mod:`plugins.response_cache.keys`). Every answer
of a caching endpoint says ``x-relaygate-cache: hit | miss | bypass``. A backend
that fails or is slow (``timeout_seconds``) is a miss: the provider answers, and
Redis is left alone for ``retry_after_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import orjson

from plugins.response_cache.backends import Backend, MemoryBackend, RedisBackend
from plugins.response_cache.config import EndpointCacheConfig, ResponseCacheConfig
from plugins.response_cache.keys import cache_key, why_not_cacheable
from proxy import hookimpl
from proxy.hooks import active_when
from proxy.answers import StoredAnswer
from proxy.stash import StashKey
from proxy.taps import RESPONSE_TAPS
from proxy.usage import Usage

if TYPE_CHECKING:
    from proxy.config import EndpointConfig
    from proxy.context import Principal, RequestContext, Route
    from proxy.gateway import Gateway
    from proxy.sections import Spec

log = logging.getLogger("relaygate.response_cache")
HEADER = "x-relaygate-cache"
HIT, MISS, BYPASS, ERROR = "hit", "miss", "bypass", "error"


class Stores:
    """The process's backends, and when Redis may be asked again after a failure."""

    def __init__(self, config: ResponseCacheConfig) -> None:
        self.config = config
        self.memory = MemoryBackend(config.memory_max_bytes)
        self.redis: RedisBackend | None = None
        if config.redis_url is not None:
            self.redis = RedisBackend(config.redis_url.get_secret_value(), config.redis_prefix,
                                      config.timeout_seconds)
        self.redis_down_until = 0.0
        self.tasks: set[asyncio.Task[None]] = set()

    def backend(self, name: str) -> Backend | None:
        if name == "memory":
            return self.memory
        if self.redis is None or time.monotonic() < self.redis_down_until:
            return None
        return self.redis

    def failed(self, name: str, exc: BaseException) -> None:
        log.warning("response cache: the %s backend failed (%s); the provider answers", name, type(exc).__name__)
        if name == "redis":
            self.redis_down_until = time.monotonic() + self.config.retry_after_seconds

    async def close(self) -> None:
        for task in list(self.tasks):
            await asyncio.wait({task}, timeout=self.config.timeout_seconds * 4)
        await self.memory.close()
        if self.redis is not None:
            await self.redis.close()


#: the process's stores (rebuilt when the configuration is loaded)
STORES: StashKey[Stores] = StashKey("response_cache.stores")


@dataclass
class Pending:
    """A miss being recorded: where it goes, and the bytes its client is sent."""

    key: str
    config: EndpointCacheConfig
    stream: bool
    json_array: bool
    limit: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0

    def tap(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= self.limit:
            self.parts.append(chunk)


#: the request's pending store, set on a miss
PENDING: StashKey[Pending] = StashKey("response_cache.pending")


def encode(answer: StoredAnswer) -> bytes:
    head = {"v": 1, "stream": answer.stream, "json_array": answer.json_array, "usage": asdict(answer.usage)}
    return orjson.dumps(head) + b"\n" + answer.body


def decode(data: bytes) -> StoredAnswer:
    head, _, body = data.partition(b"\n")
    meta = orjson.loads(head)
    return StoredAnswer(body=body, stream=meta["stream"], json_array=meta["json_array"], usage=Usage(**meta["usage"]))


def tenant_of(principal: Principal | None, share_by: str) -> str:
    if principal is None or share_by == "everyone":
        return "*"
    value = {"key": principal.key_id, "owner": principal.owner, "team": principal.team}[share_by]
    return f"{share_by}:{value or principal.key_id}"     # no owner/team: never shared beyond the key


def _count(ctx: RequestContext, result: str) -> None:
    from plugins.metrics.prometheus import METRICS        # optional: metrics may be disabled
    rm = ctx.gateway.stash.get(METRICS)
    if rm is not None and ctx.endpoint is not None:
        rm.inc(rm.m.response_cache, (ctx.endpoint.name, result))


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"response_cache": ResponseCacheConfig}


@hookimpl
def relaygate_endpoint_fields() -> dict[str, Spec]:
    return {"cache": (EndpointCacheConfig | None, None)}


@hookimpl
async def relaygate_config_loaded(gateway: Gateway) -> None:
    config = gateway.settings.section(ResponseCacheConfig)
    old = gateway.stash.get(STORES)
    if old is not None and old.config == config:
        return
    gateway.stash[STORES] = Stores(config)
    if old is not None:
        await old.close()


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    stores = gateway.stash.pop(STORES, None)
    if stores is not None:
        await stores.close()


def _cached(gateway: Gateway, endpoint: EndpointConfig | None) -> bool:
    config: EndpointCacheConfig | None = getattr(endpoint, "cache", None)
    return config is not None and config.mode != "off"


@hookimpl
@active_when(_cached)
def relaygate_answer_request(ctx: RequestContext, route: Route) -> Awaitable[StoredAnswer | None] | None:
    # Plain def: an endpoint without a cache (most) costs no coroutine per request.
    config: EndpointCacheConfig | None = getattr(route.endpoint, "cache", None)
    stores = ctx.gateway.stash.get(STORES)
    if config is None or config.mode == "off" or stores is None or route.exchange.local:
        return None
    return _answer(ctx, route, config, stores)


async def _answer(ctx: RequestContext, route: Route, config: EndpointCacheConfig,
                  stores: Stores) -> StoredAnswer | None:
    asked = ctx.request.headers.get(HEADER, "").strip().lower()
    if asked == BYPASS or why_not_cacheable(ctx.body or {}, deterministic_only=config.deterministic_only,
                                            forced=asked == "use"):
        ctx.response_headers[HEADER] = BYPASS
        _count(ctx, BYPASS)
        return None
    json_array = ctx.stream and ctx.api.json_array_stream(ctx.path_params)
    key = cache_key(ctx.body or {}, tenant=tenant_of(ctx.principal, config.share_by), api=ctx.api.id,
                    endpoint=route.endpoint.name, served_model=route.served.name, provider=route.provider.name,
                    provider_model=route.upstream_model, stream=ctx.stream, json_array=json_array,
                    path_params=ctx.path_params)
    result, found = await _lookup(stores, config.backend, key)
    _count(ctx, result if found is None else HIT)
    if found is not None:
        found.headers[HEADER] = HIT
        return found
    ctx.response_headers[HEADER] = MISS
    pending = Pending(key, config, ctx.stream, json_array, stores.config.max_entry_bytes)
    ctx.stash[PENDING] = pending
    ctx.stash.setdefault(RESPONSE_TAPS, []).append(pending.tap)
    return None


async def _lookup(stores: Stores, name: str, key: str) -> tuple[str, StoredAnswer | None]:
    backend = stores.backend(name)
    if backend is None:
        return ERROR, None
    try:
        async with asyncio.timeout(stores.config.timeout_seconds):
            data = await backend.get(key)
        return MISS, decode(data) if data is not None else None
    except Exception as exc:               # a cache must never fail a request
        stores.failed(name, exc)
        return ERROR, None


@hookimpl
@active_when(_cached)
def relaygate_request_finished(ctx: RequestContext) -> None:
    pending = ctx.stash.get(PENDING)
    if pending is None or ctx.status != 200 or not ctx.attempts or pending.size > pending.limit:
        return
    att = ctx.attempts[-1]
    if att.error or att.disconnected or att.outcome not in ("", "complete"):
        return
    stores = ctx.gateway.stash.get(STORES)
    if stores is None:
        return
    answer = StoredAnswer(b"".join(pending.parts), pending.stream, pending.json_array, Usage(**asdict(att.usage)))
    task = asyncio.get_running_loop().create_task(_store(stores, pending, encode(answer)))
    stores.tasks.add(task)
    task.add_done_callback(stores.tasks.discard)


async def _store(stores: Stores, pending: Pending, data: bytes) -> None:
    name = pending.config.backend
    backend = stores.backend(name)
    if backend is None:
        return
    try:
        async with asyncio.timeout(stores.config.timeout_seconds):
            await backend.set(pending.key, data, pending.config.ttl_seconds)
    except Exception as exc:
        stores.failed(name, exc)



