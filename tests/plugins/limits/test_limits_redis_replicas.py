"""Several gateway replicas sharing one Redis enforce one limit exactly.

Two real ``relaygate serve`` processes (and, for token limits, two in-process
gateways) share one Redis under a unique key prefix; a burst of concurrent
requests is spread over both and exactly the limit passes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from limits_support import REDIS_URL, require_redis, unique_prefix
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from plugins.limits.admission import LIMITER
from plugins.limits.redis_backend import RedisBackend

AUTH = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
RELAYGATE = str(Path(sys.executable).with_name("relaygate"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def redis_prefix():
    await require_redis()
    prefix = unique_prefix()
    yield prefix
    cleaner = RedisBackend(REDIS_URL, prefix)
    await cleaner.clear()
    await cleaner.close()


async def start_process(config_path: Path, port: int, log_path: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "RELAYGATE_REDIS_URL": REDIS_URL}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(log_path, "wb")                      # noqa: SIM115 - closed with the process
    proc = await asyncio.create_subprocess_exec(RELAYGATE, "serve", "--config", str(config_path),
                                                "--port", str(port), stdout=log, stderr=log, env=env)
    log.close()
    return proc


async def wait_ready(session: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process,
                     log_path: Path) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            break
        try:
            async with session.get(url + "/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"gateway on {url} did not become ready:\n{log_path.read_text()[-3000:]}")


async def burst(session: aiohttp.ClientSession, urls: list[str], n: int, body: bytes) -> list[int]:
    async def one(i: int) -> int:
        async with session.post(urls[i % len(urls)] + "/v1/chat/completions", data=body, headers=AUTH) as r:
            await r.read()
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
            return r.status
    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_two_processes_sharing_redis_pass_exactly_the_limit(fake_openai, tmp_path, redis_prefix):
    fake_openai.always(Behavior(latency=0.2))
    cfg = openai_config(fake_openai.base_url)
    cfg["server"] = {"drain_timeout_seconds": 2, "shutdown_delay_seconds": 0, "reload_poll_seconds": 0}
    cfg["limits"] = {"backend": "redis", "redis_url": "${RELAYGATE_REDIS_URL}", "redis_prefix": redis_prefix,
                     "rules": [{"scope": "key", "requests_per_minute": 12}]}
    procs, urls, logs = [], [], []
    for i in range(2):
        c = {**cfg, "storage": {"ledger": {"path": str(tmp_path / f"ledger{i}.db")}}}
        path = tmp_path / f"gw{i}.yaml"
        path.write_text(yaml.safe_dump(c))
        port = free_port()
        logs.append(tmp_path / f"gw{i}.log")
        procs.append(await start_process(path, port, logs[-1]))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            for url, proc, log in zip(urls, procs, logs):
                await wait_ready(s, url, proc, log)
            body = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
            statuses = await burst(s, urls, 60, body)
        assert statuses.count(200) == 12 and statuses.count(429) == 48, statuses
        assert len(fake_openai.requests) == 12
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_two_gateways_share_a_token_limit_with_settlement(fake_openai, tmp_path, redis_prefix):
    fake_openai.always(Behavior(latency=0.3, usage=Usage(input_tokens=15, output_tokens=5)))
    cfg: dict[str, Any] = openai_config(fake_openai.base_url)
    cfg["limits"] = {"backend": "redis", "redis_url": REDIS_URL, "redis_prefix": redis_prefix,
                     "rules": [{"scope": "team", "tokens_per_minute": 2000}]}
    body = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 300})
    cost = len(body) // 4 + 300                       # the reservation: prompt estimate + max_tokens
    a = run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "a.db")))
    b = run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "b.db")))
    async with a as gw_a, b as gw_b, aiohttp.ClientSession() as s:
        statuses = await burst(s, [gw_a.url, gw_b.url], 30, body)
        passed = 2000 // cost
        assert statuses.count(200) == passed and statuses.count(429) == 30 - passed
        limiter = gw_a.gateway.stash[LIMITER]
        (limit,) = [lim for plan in limiter.rules._cache.values() for lim in plan.tokens]
        assert await limiter.backend.usage(limit) == 20 * passed      # settled to real usage
        # the refunds make room again, on either replica
        assert (await burst(s, [gw_b.url], 1, body)) == [200]
