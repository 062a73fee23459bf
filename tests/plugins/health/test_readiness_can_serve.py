"""Readiness means "can serve": a fail-open limiter without Redis and a ledger spooling through a
PostgreSQL outage stay ready (degraded in /healthz and relaygate_dependency_up); fail-closed does not.

Redis and PostgreSQL are cut with a loopback TCP forwarder while readiness is polled.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.behavior import Behavior
from support.gateway import metric_value, openai_config, run_gateway, settings_for

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "ledger"), str(HERE.parent / "limits")]
from ledger_support import TcpForwarder, drop_schema, new_schema, send  # noqa: E402
from limits_support import REDIS_URL, require_redis, unique_prefix  # noqa: E402

from plugins import health  # noqa: E402


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch):
    monkeypatch.setattr(health, "POLL_SECONDS", 0.1)


async def probe(url: str) -> tuple[int, int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/readyz") as r:
            ready = r.status
        async with s.get(url + "/healthz") as r:
            return ready, r.status, await r.json()


async def poll_while(url: str, seconds: float) -> tuple[set[int], dict[str, Any]]:
    """Readiness statuses seen while polling for *seconds*, and the last /healthz body."""
    seen: set[int] = set()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    body: dict[str, Any] = {}
    while loop.time() < end:
        ready, live, body = await probe(url)
        assert live == 200
        seen.add(ready)
        await asyncio.sleep(0.05)
    return seen, body


def redis_settings(base_url: str, tmp_path: Path, redis_port: int, on_error: str):
    cfg = openai_config(base_url)
    cfg["limits"] = {"backend": "redis", "redis_url": REDIS_URL.replace(":6379", f":{redis_port}"),
                     "redis_prefix": unique_prefix(), "on_backend_error": on_error,
                     "rules": [{"scope": "key", "requests_per_minute": 1000}]}
    return settings_for(cfg, ledger_path=str(tmp_path / "ledger.db"))


async def test_redis_down_with_a_fail_open_limiter_stays_ready_and_shows_degraded(fake_openai, tmp_path):
    await require_redis()
    fake_openai.always(Behavior(times=None))
    fwd = await TcpForwarder(target_port=6379).start()
    async with run_gateway(redis_settings(fake_openai.base_url, tmp_path, fwd.port, "allow")) as gw:
        assert (await probe(gw.url))[0] == 200
        await fwd.cut()
        seen, body = await poll_while(gw.url, 1.0)
        assert seen == {200}
        assert body["status"] == "degraded" and body["checks"]["limits_redis"] == "down"
        assert await send(gw.url) == 200                        # fail-open: served without limits
        assert metric_value(await gw.metrics(), "relaygate_dependency_up", dependency="limits_redis") == 0
        await fwd.restore()
        await asyncio.sleep(0.3)
        _, _, body = await probe(gw.url)
        assert body["status"] == "ok" and body["checks"]["limits_redis"] == "up"
        assert metric_value(await gw.metrics(), "relaygate_dependency_up", dependency="limits_redis") == 1
    await fwd.cut()


async def test_redis_down_with_a_fail_closed_limiter_is_not_ready(fake_openai, tmp_path):
    await require_redis()
    fwd = await TcpForwarder(target_port=6379).start()
    async with run_gateway(redis_settings(fake_openai.base_url, tmp_path, fwd.port, "deny")) as gw:
        assert (await probe(gw.url))[0] == 200
        await fwd.cut()
        seen, body = await poll_while(gw.url, 0.5)
        assert seen == {503}
        assert body["checks"]["limits_redis"] == "down"


async def test_postgres_down_with_the_ledger_spooling_stays_ready(fake_openai, tmp_path):
    schema = await new_schema()
    fake_openai.always(Behavior(times=None))
    fwd = await TcpForwarder().start()
    cfg = openai_config(fake_openai.base_url)
    cfg["storage"] = {"ledger": {"backend": "postgres", "postgres_dsn": fwd.dsn(), "postgres_schema": schema,
                                 "path": str(tmp_path / "ledger.db"), "spool_dir": str(tmp_path / "spool"),
                                 "flush_interval_seconds": 0.05, "spool_retry_seconds": 0.2}}
    try:
        async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "ledger.db"))) as gw:
            assert (await probe(gw.url))[0] == 200
            await fwd.cut()
            sends = asyncio.gather(*(send(gw.url) for _ in range(10)))
            seen, body = await poll_while(gw.url, 1.0)
            assert await sends == [200] * 10
            assert seen == {200}
            assert body["status"] == "degraded" and body["checks"]["ledger"] == "down"
            assert metric_value(await gw.metrics(), "relaygate_dependency_up", dependency="ledger") == 0
            await fwd.restore()
    finally:
        await fwd.cut()
        await drop_schema(schema)
