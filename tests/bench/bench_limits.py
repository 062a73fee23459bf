#!/usr/bin/env python3
"""Cost of the limiter per request: one admit + one settle, through the real hook functions.

A key with a requests limit, a token limit and a team budget (two windows and
one budget, whose worst-case hold is taken at admit and given back at settle).
Prints microseconds per admit+settle for the in-process backend and for Redis
(sequential: one round trip each; and with 50 requests in flight); ``--no-budget``
leaves the budget out, to see what the hold adds. Numbers, not assertions.

    .venv/bin/python tests/bench/bench_limits.py [--redis redis://127.0.0.1:6379/0] [-n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from plugins.openai.chat_api import OpenAIChat
from plugins.limits import admission
from plugins.limits.rules import Rules
from plugins.limits.windows import MemoryBackend
from plugins.limits.config import LimitsConfig
from proxy.config import CapsConfig, RetryConfig, TimeoutsConfig
from proxy.context import Principal
from proxy.usage import Usage
from proxy.stash import Stash

RULES = {"rules": [{"scope": "key", "requests_per_minute": 10**9, "tokens_per_minute": 10**12}]}
CONFIG = LimitsConfig.model_validate({**RULES, "budgets": [{"scope": "team", "usd_per_day": 10**6}]})
NO_BUDGET = LimitsConfig.model_validate(RULES)
BODY = {"model": "chat", "messages": [{"role": "user", "content": "hello " * 50}], "max_tokens": 256}
RAW = b"x" * 600


def make_ctx(gateway: SimpleNamespace, i: int) -> SimpleNamespace:
    return SimpleNamespace(gateway=gateway, principal=Principal("bench-key", "bench", "bench-team"),
                           body=BODY, raw_body=RAW, api=OpenAIChat(), request_id=f"req_{i}", stash=Stash(),
                           surface="unified", endpoint=None, endpoint_name="chat")


async def one(gateway: SimpleNamespace, route: SimpleNamespace, i: int) -> None:
    ctx = make_ctx(gateway, i)
    r = admission.relaygate_admit_request(ctx, route)
    if r is not None:
        await r
    record = SimpleNamespace(usage=Usage(input_tokens=150, output_tokens=40, total_tokens=190), cost_usd=0.0004,
                             status=200, disconnected=False)
    r = admission.relaygate_record_usage(ctx, record)
    if r is not None:
        await r


async def measure(name: str, backend, n: int, concurrency: int = 1, config: LimitsConfig = CONFIG) -> None:
    limiter = admission.Limiter(config, Rules(config), backend)
    gateway = SimpleNamespace(stash=Stash())
    gateway.stash[admission.LIMITER] = limiter
    route = SimpleNamespace(endpoint=SimpleNamespace(name="chat", caps=CapsConfig(), timeouts=TimeoutsConfig(),
                                                     retry=RetryConfig()),
                            served=SimpleNamespace(prices={"input": 1.0, "output": 2.0}))
    for i in range(min(n, 200)):                       # warm up (scripts loaded, plan cached)
        await one(gateway, route, -i - 1)
    t0 = time.perf_counter()
    if concurrency == 1:
        for i in range(n):
            await one(gateway, route, i)
    else:
        sem = asyncio.Semaphore(concurrency)

        async def bounded(i: int) -> None:
            async with sem:
                await one(gateway, route, i)
        await asyncio.gather(*(bounded(i) for i in range(n)))
    us = (time.perf_counter() - t0) / n * 1e6
    print(f"{name:<34} {us:9.1f} µs per admit+settle   ({n} requests, {concurrency} in flight)")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--no-budget", action="store_true", help="rules only: what the budget hold adds")
    args = ap.parse_args()
    config = NO_BUDGET if args.no_budget else CONFIG
    await measure("memory", MemoryBackend(), args.n, config=config)
    try:
        from plugins.limits.redis_backend import RedisBackend
        prefix = f"rgbench:{uuid.uuid4().hex[:8]}:"
        backend = RedisBackend(args.redis, prefix)
        await backend.ping()
    except Exception as exc:
        print(f"redis: not measured ({exc})")
        return
    try:
        await measure("redis (sequential, 1 RTT each)", backend, max(1, args.n // 10), config=config)
        await measure("redis (50 in flight)", backend, max(1, args.n // 4), concurrency=50, config=config)
    finally:
        await backend.clear()
        await backend.close()


if __name__ == "__main__":
    asyncio.run(main())
