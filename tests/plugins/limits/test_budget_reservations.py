"""Budgets hold each request's worst-case cost while it runs, so concurrency cannot overspend them.

A $0.03 budget at $0.01 a request used to admit 20 of 20 concurrent requests ($0.21 spent with
the one before). Now each request holds its worst case (prompt estimate and max output tokens at
the served model's price) at admission and settles to its real cost, so spend stays within the
budget plus what requests cost beyond their holds (nothing, when holds are upper bounds).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, metric_value, openai_config, run_gateway, settings_for

from plugins.limits.admission import LIMITER

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
CENT = 10_000_000                                   # nano-USD


def budget_config(base_url: str, usd_per_day: float, prices: dict[str, float], **endpoint: Any) -> dict[str, Any]:
    cfg = openai_config(base_url)
    served = cfg["endpoints"]["chat"]["served_models"][0]
    served["prices"] = prices
    cfg["endpoints"]["chat"].update(endpoint)
    cfg["limits"] = {"budgets": [{"scope": "team", "match": "ml", "usd_per_day": usd_per_day}]}
    return cfg


async def burst(url: str, n: int, body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        async def one() -> tuple[int, dict[str, Any]]:
            async with s.post(url + "/v1/chat/completions", json=body, headers=AUTH) as r:
                return r.status, await r.json(content_type=None)
        return list(await asyncio.gather(*(one() for _ in range(n))))


def chat(max_tokens: int | None = 10) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


async def spent(gw) -> int:
    limiter = gw.gateway.stash[LIMITER]
    (plan,) = limiter.rules._cache.values()
    return await limiter.backend.spent(plan.budgets[0].bucket(limiter.wall())[0])


async def test_twenty_concurrent_requests_never_pass_a_three_cent_budget(fake_openai, tmp_path):
    # $1000 per million output tokens: 10 tokens are $0.01, and max_tokens 10 holds exactly that
    fake_openai.always(Behavior(latency=0.3, usage=Usage(input_tokens=40, output_tokens=10)))
    cfg = budget_config(fake_openai.base_url, 0.03, {"input": 0.0, "output": 1000.0})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        results = await burst(gw.url, 20, chat())
        statuses = [s for s, _ in results]
        assert statuses.count(200) == 3 and statuses.count(429) == 17, statuses
        held = next(b for s, b in results if s == 429)["error"]["message"]
        assert "held by requests in flight" in held and "up to $0.01" in held
        assert len(fake_openai.requests) == 3
        assert await spent(gw) == 3 * CENT                               # exactly the budget, not $0.20
        status, body = (await burst(gw.url, 1, chat()))[0]
        assert status == 403 and body["error"]["code"] == "budget_exceeded"
        assert "exhausted: $0.03 spent" in body["error"]["message"]
        rows = await gw.ledger_rows()
        assert sum(r["cost_usd"] for r in rows) == pytest.approx(0.03)
        assert metric_value(await gw.metrics(), "relaygate_rate_limited_requests_total",
                            limit="team_usd_per_day") == 18


async def test_without_max_tokens_the_endpoints_output_cap_is_held(fake_openai, tmp_path):
    fake_openai.always(Behavior(latency=0.2, usage=Usage(input_tokens=40, output_tokens=3)))
    cfg = budget_config(fake_openai.base_url, 0.03, {"input": 0.0, "output": 1000.0},
                        caps={"max_output_tokens": 28})                   # stands for the model's max output
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        statuses = [s for s, _ in await burst(gw.url, 10, chat(max_tokens=None))]
        assert statuses.count(200) == 1                                  # holds $0.028 of $0.03
        assert await spent(gw) == 3 * CENT // 10                         # settled to the real $0.003
        status, body = (await burst(gw.url, 1, chat(max_tokens=None)))[0]
        assert status == 403, body
        assert "has $0.027 left ($0.003 spent), and this request may cost up to $0.028" in body["error"]["message"]
        assert "ask for fewer output tokens" in body["error"]["message"]
        assert [s for s, _ in await burst(gw.url, 1, chat(max_tokens=5))] == [200]    # a smaller one fits


async def test_a_failed_request_gives_its_hold_back(fake_openai, tmp_path):
    fake_openai.script(Behavior(status=400, latency=0.2))
    cfg = budget_config(fake_openai.base_url, 0.01, {"input": 0.0, "output": 1000.0})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        assert (await burst(gw.url, 1, chat()))[0][0] == 400
        limiter = gw.gateway.stash[LIMITER]
        (plan,) = limiter.rules._cache.values()
        bucket = plan.budgets[0].bucket(limiter.wall())[0]
        for _ in range(50):                                              # the release runs after the answer
            if await limiter.backend.held(bucket) == 0:
                break
            await asyncio.sleep(0.02)
        assert await limiter.backend.held(bucket) == 0 and await spent(gw) == 0
        assert (await burst(gw.url, 1, chat()))[0][0] == 200             # the whole budget is there again


async def test_overshoot_is_bounded_by_what_requests_cost_beyond_their_holds(fake_openai, tmp_path):
    # The provider bills 1000 prompt tokens, far above the ~20 the gateway estimates from the
    # body: each request costs $0.01 more than it held. Spend may pass the budget, by at most that.
    fake_openai.always(Behavior(latency=0.3, usage=Usage(input_tokens=1000, output_tokens=10)))
    prices = {"input": 10.0, "output": 1000.0}
    cfg = budget_config(fake_openai.base_url, 0.05, prices)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        body = chat()
        statuses = [s for s, _ in await burst(gw.url, 20, body)]
        admitted = statuses.count(200)
        rows = await gw.ledger_rows()
        import orjson
        held_each = (len(orjson.dumps(body)) // 4 * prices["input"] + 10 * prices["output"]) / 1e6
        beyond = sum(max(0.0, r["cost_usd"] - held_each) for r in rows)
        total = sum(r["cost_usd"] for r in rows)
        assert admitted == 4 and total > 0.05                            # the holds were not upper bounds
        assert total <= 0.05 + beyond + 1e-12
