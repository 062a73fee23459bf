"""Two real ``relaygate serve`` replicas share a budget through Redis and a ledger in PostgreSQL.

20 and 100 concurrent requests, spread over both replicas, against a $0.05 budget at $0.01 a
request (holds are exact upper bounds here): the ledger's spend never passes the budget.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import yaml
from limits_support import PG_DSN, REDIS_URL, drop_schema, postgres_schema, require_redis, unique_prefix
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, openai_config
from test_limits_redis_replicas import free_port, start_process, wait_ready

from plugins.limits.redis_backend import RedisBackend

AUTH = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
BUDGET_USD = 0.05
PER_REQUEST_USD = 0.01


@pytest.fixture
async def redis_prefix():
    await require_redis()
    prefix = unique_prefix()
    yield prefix
    cleaner = RedisBackend(REDIS_URL, prefix)
    await cleaner.clear()
    await cleaner.close()


@pytest.fixture
async def pg_schema():
    schema = await postgres_schema()
    yield schema
    await drop_schema(schema)


def replica_config(base_url: str, prefix: str, schema: str) -> dict[str, Any]:
    cfg = openai_config(base_url)
    cfg["endpoints"]["chat"]["served_models"][0]["prices"] = {"input": 0.0, "output": 1000.0}
    cfg["server"] = {"drain_timeout_seconds": 5, "reload_poll_seconds": 0}
    cfg["storage"] = {"ledger": {"backend": "postgres", "postgres_dsn": PG_DSN, "postgres_schema": schema,
                                 "flush_interval_seconds": 0.05}}
    cfg["limits"] = {"backend": "redis", "redis_url": "${RELAYGATE_REDIS_URL}", "redis_prefix": prefix,
                     "budgets": [{"scope": "team", "match": "ml", "usd_per_day": BUDGET_USD}]}
    return cfg


async def ledger_spend(schema: str) -> tuple[int, float]:
    con = await asyncpg.connect(PG_DSN, timeout=3)
    try:
        row = await con.fetchrow(f'SELECT count(*) AS n, coalesce(sum(cost_usd), 0) AS usd FROM "{schema}".ledger '
                                 "WHERE status = 200")
    finally:
        await con.close()
    return int(row["n"]), float(row["usd"])


@pytest.mark.parametrize("concurrent", [20, 100])
async def test_replicas_never_spend_past_a_shared_budget(fake_openai, tmp_path, redis_prefix, pg_schema,
                                                         concurrent):
    fake_openai.always(Behavior(latency=1.0, usage=Usage(input_tokens=30, output_tokens=10)))
    cfg = replica_config(fake_openai.base_url, redis_prefix, pg_schema)
    procs, urls, logs = [], [], []
    for i in range(2):
        path = tmp_path / f"gw{i}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        port = free_port()
        logs.append(tmp_path / f"gw{i}.log")
        procs.append(await start_process(path, port, logs[-1]))
        urls.append(f"http://127.0.0.1:{port}")
    body = orjson.dumps({"model": "chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            for url, proc, log in zip(urls, procs, logs):
                await wait_ready(s, url, proc, log)

            async def one(i: int) -> int:
                async with s.post(urls[i % 2] + "/v1/chat/completions", data=body, headers=AUTH) as r:
                    await r.read()
                    return r.status
            statuses = list(await asyncio.gather(*(one(i) for i in range(concurrent))))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)             # drains, then flushes the ledger
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    passed = statuses.count(200)
    assert set(statuses) <= {200, 429, 403}, statuses
    assert passed == round(BUDGET_USD / PER_REQUEST_USD), statuses
    rows, spend = await ledger_spend(pg_schema)
    # holds are exact upper bounds here, so the documented bound (spend - budget <= what requests
    # cost beyond their holds) is zero
    assert rows == passed and spend == pytest.approx(BUDGET_USD) and spend <= BUDGET_USD + 1e-9
    assert len(fake_openai.requests) == passed
    print(f"\n{concurrent} concurrent on 2 replicas: {passed} admitted, spend ${spend:.4f} "
          f"of ${BUDGET_USD:.2f} (overshoot ${max(0.0, spend - BUDGET_USD):.4f})")
