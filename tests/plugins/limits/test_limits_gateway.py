"""Rate limits and budgets through a running gateway (in-process memory backend)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from limits_support import FakeClock
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, metric_value, openai_config, run_gateway, settings_for
from support.specs import validate_anthropic, validate_openai

from plugins.limits.admission import LIMITER

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def chat_body(max_tokens: int = 100, **extra: Any) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens, **extra}


def config(base_url: str, limits: dict[str, Any]) -> dict[str, Any]:
    return {**openai_config(base_url), "limits": limits}


@pytest.fixture
async def start(fake_openai, tmp_path):
    """start(limits) -> a running gateway with those limits in front of fake_openai."""
    running: list[Any] = []

    async def _start(limits: dict[str, Any], cfg: dict[str, Any] | None = None):
        cm = run_gateway(settings_for(cfg or config(fake_openai.base_url, limits),
                                      ledger_path=str(tmp_path / f"ledger{len(running)}.db")))
        gw = await cm.__aenter__()
        running.append(cm)
        return gw

    yield _start
    for cm in reversed(running):
        await cm.__aexit__(None, None, None)


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    async with session.post(url, json=body, headers=headers or AUTH) as r:
        return r.status, dict(r.headers), await r.json(content_type=None)


def window_usage(gw, limit_id: str) -> Any:
    limiter = gw.gateway.stash[LIMITER]
    plan_limits = {lim.id: lim for plan in limiter.rules._cache.values() for lim in plan.requests + plan.tokens}
    return limiter.backend.usage(plan_limits[limit_id])


async def test_requests_limit_answers_429_in_openai_shape_with_retry_after(start, fake_openai):
    gw = await start({"rules": [{"scope": "key", "requests_per_minute": 2}]})
    async with aiohttp.ClientSession() as s:
        statuses = [(await post(s, gw.url + "/v1/chat/completions", chat_body()))[0] for _ in range(2)]
        status, headers, body = await post(s, gw.url + "/v1/chat/completions", chat_body())
    assert statuses == [200, 200] and status == 429
    assert len(fake_openai.requests) == 2
    validate_openai("ErrorResponse", body)
    assert body["error"]["type"] == "rate_limit_error" and body["error"]["code"] == "rate_limit_exceeded"
    assert "requests per minute limit of key 'alice-key' (2/min) exceeded" in body["error"]["message"]
    assert 55 <= int(headers["Retry-After"]) <= 60
    assert TEST_KEY not in str(body)
    text = await gw.metrics()
    assert metric_value(text, "relaygate_rate_limited_requests_total", surface="unified", endpoint="chat",
                        limit="key_requests_per_minute") == 1


async def test_fifty_concurrent_requests_against_ten_per_minute(start, fake_openai):
    fake_openai.always(Behavior(latency=0.05))
    gw = await start({"rules": [{"scope": "endpoint_key", "match": "chat", "requests_per_minute": 10}]})
    async with aiohttp.ClientSession() as s:
        results = await asyncio.gather(*(post(s, gw.url + "/v1/chat/completions", chat_body())
                                         for _ in range(50)))
    statuses = [r[0] for r in results]
    assert statuses.count(200) == 10 and statuses.count(429) == 40
    assert len(fake_openai.requests) == 10
    assert "key 'alice-key' on endpoint 'chat'" in next(r[2] for r in results if r[0] == 429)["error"]["message"]


async def test_token_limit_reserves_the_estimate_and_settles_real_usage(start, fake_openai):
    fake_openai.always(Behavior(usage=Usage(input_tokens=30, output_tokens=20)))
    gw = await start({"rules": [{"scope": "key", "tokens_per_minute": 1000}]})
    async with aiohttp.ClientSession() as s:
        status, _, _ = await post(s, gw.url + "/v1/chat/completions", chat_body(max_tokens=900))
        assert status == 200
        assert await window_usage(gw, "key:alice-key:tokens") == 50         # 900+ reserved, 50 used
        # 50 used + estimate (~25 prompt + 930) fits; a second one then does not
        assert (await post(s, gw.url + "/v1/chat/completions", chat_body(max_tokens=900)))[0] == 200
        assert await window_usage(gw, "key:alice-key:tokens") == 100
        fake_openai.always(Behavior(latency=1.0, usage=Usage(input_tokens=30, output_tokens=20)))
        slow = asyncio.ensure_future(post(s, gw.url + "/v1/chat/completions", chat_body(max_tokens=800)))
        await fake_openai.wait_for_requests(3)
        status, headers, body = await post(s, gw.url + "/v1/chat/completions", chat_body(max_tokens=800))
        assert status == 429                    # the slow call's reservation holds the window
        assert "tokens per minute limit of key 'alice-key' (1000/min)" in body["error"]["message"]
        assert int(headers["Retry-After"]) >= 1
        assert (await slow)[0] == 200
        assert await window_usage(gw, "key:alice-key:tokens") == 150
    assert len(fake_openai.requests) == 3


async def test_failed_call_refunds_its_reservation(start, fake_openai):
    fake_openai.always(Behavior(status=500))
    gw = await start({"rules": [{"scope": "owner", "tokens_per_minute": 5000}]})
    async with aiohttp.ClientSession() as s:
        status, _, _ = await post(s, gw.url + "/v1/chat/completions", chat_body(max_tokens=4000))
        assert status == 500
        assert await window_usage(gw, "owner:alice:tokens") == 0


async def test_retried_call_is_charged_once_with_the_answering_attempt(start, fake_openai):
    fake_openai.script(Behavior(status=500), Behavior(usage=Usage(input_tokens=40, output_tokens=2)))
    gw = await start({"rules": [{"scope": "owner", "tokens_per_minute": 5000}]})
    async with aiohttp.ClientSession() as s:
        status, _, _ = await post(s, gw.url + "/v1/chat/completions", chat_body(max_tokens=4000))
    assert status == 200 and len(fake_openai.requests) == 2
    assert await window_usage(gw, "owner:alice:tokens") == 42


async def test_streamed_call_settles_with_metered_usage(start, fake_openai):
    fake_openai.always(Behavior(usage=Usage(input_tokens=7, output_tokens=5)))
    gw = await start({"rules": [{"scope": "key", "tokens_per_minute": 5000}]})
    async with aiohttp.ClientSession() as s, \
            s.post(gw.url + "/v1/chat/completions", json=chat_body(max_tokens=3000, stream=True),
                   headers=AUTH) as r:
        assert r.status == 200
        await r.read()
    await asyncio.sleep(0.05)
    assert await window_usage(gw, "key:alice-key:tokens") == 12


async def test_most_specific_rule_wins(start, fake_openai):
    gw = await start({"rules": [{"scope": "key", "match": "alice-key", "requests_per_minute": 1},
                                {"scope": "key", "match": "*", "requests_per_minute": 100}]})
    async with aiohttp.ClientSession() as s:
        statuses = [(await post(s, gw.url + "/v1/chat/completions", chat_body()))[0] for _ in range(2)]
    assert statuses == [200, 429]


# -- budgets --------------------------------------------------------------------------


async def test_budget_refuses_before_the_provider_with_403(start, fake_openai):
    # prices: input $1, output $2 per million -> 1M input tokens cost $1
    fake_openai.always(Behavior(usage=Usage(input_tokens=1_000_000, output_tokens=500_000)))
    gw = await start({"budgets": [{"scope": "team", "match": "ml", "usd_per_day": 1.5}]})
    async with aiohttp.ClientSession() as s:
        assert (await post(s, gw.url + "/v1/chat/completions", chat_body()))[0] == 200   # $2 spent
        status, headers, body = await post(s, gw.url + "/v1/chat/completions", chat_body())
    assert status == 403 and "Retry-After" not in headers
    assert len(fake_openai.requests) == 1                   # the provider never saw the second
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == "budget_exceeded"
    message = body["error"]["message"]
    assert "daily budget of team 'ml' ($1.50) exhausted: $2.00 spent; it resets at " in message
    assert message.split("resets at ")[1].startswith(("20", "21"))
    text = await gw.metrics()
    assert metric_value(text, "relaygate_rate_limited_requests_total", limit="team_usd_per_day") == 1


async def test_budget_resetting_within_minutes_answers_429(start, fake_openai):
    fake_openai.always(Behavior(usage=Usage(input_tokens=1_000_000, output_tokens=0)))
    gw = await start({"budgets": [{"scope": "key", "usd_per_day": 0.5}]})
    gw.gateway.stash[LIMITER].wall = FakeClock(1_750_000_000 - 1_750_000_000 % 86400 + 86400 - 120)
    async with aiohttp.ClientSession() as s:
        assert (await post(s, gw.url + "/v1/chat/completions", chat_body()))[0] == 200
        status, headers, body = await post(s, gw.url + "/v1/chat/completions", chat_body())
    assert status == 429 and headers["Retry-After"] == "120"
    assert "daily budget of key 'alice-key' ($0.50)" in body["error"]["message"]


# -- the other surfaces' error shapes ---------------------------------------------------


def google_rpc_status(_schema: str, body: dict[str, Any]) -> None:
    """Gemini errors are a google.rpc.Status (the Gemini spec has no error schema)."""
    assert set(body) == {"error"} and body["error"]["code"] == 429
    assert body["error"]["status"] == "RESOURCE_EXHAUSTED" and isinstance(body["error"]["message"], str)


async def test_limit_error_in_each_registered_surface_shape(start, fake_openai, fake_anthropic, fake_gemini):
    cfg = openai_config(fake_openai.base_url)
    cfg["providers"].update({
        "anthropic": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk-ant-upstream"},
        "gemini": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "gm-upstream"}})
    cfg["endpoints"].update({
        "claude": {"served_models": [{"name": "c", "provider": "anthropic", "model": "claude-sonnet-4-5"}]},
        "gem": {"served_models": [{"name": "g", "provider": "gemini", "model": "gemini-2.5-flash"}]}})
    cfg["limits"] = {"rules": [{"scope": "endpoint_key", "requests_per_minute": 1}]}
    gw = await start({}, cfg)
    surfaces = {r.api for r in gw.gateway.routes.surfaces}
    calls = [("openai.chat", "/v1/chat/completions", chat_body(), validate_openai)]
    if "anthropic.messages" in surfaces:
        calls.append(("anthropic.messages", "/anthropic/v1/messages",
                      {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                      validate_anthropic))
    if "gemini.generate" in surfaces:
        calls.append(("gemini.generate", "/gemini/v1beta/models/gem:generateContent",
                      {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, google_rpc_status))
    async with aiohttp.ClientSession() as s:
        for api, path, body, validate in calls:
            first = await post(s, gw.url + path, body)
            assert first[0] == 200, (api, first)
            status, headers, err = await post(s, gw.url + path, body)
            assert status == 429, (api, err)
            assert int(headers["Retry-After"]) >= 55
            validate("ErrorResponse", err)
            assert "requests per minute limit of key 'alice-key' on endpoint" in str(err), api
