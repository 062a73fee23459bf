"""Cache reads, cache writes (5-minute and 1-hour) and reasoning tokens are metered and priced at their
own catalogue rates, for every provider and every client surface, streamed or not.

The oracle is genai-prices' own ``calc_price`` on the provider's native usage numbers; the gateway
computes its cost from its own meters and the catalogue's rates, so the two paths are independent.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp
import genai_prices
import pytest
from caching_support import three_provider_config
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for

NATIVE = Usage(input_tokens=3000, output_tokens=800, reasoning_tokens=300, cached_tokens=4000,
               cache_creation_tokens=2500, cache_creation_1h_tokens=1000)
ANTHROPIC = Usage(input_tokens=3000, output_tokens=800, cached_tokens=4000, cache_creation_tokens=2500,
                  cache_creation_1h_tokens=1000)
#: OpenAI and Gemini count the cached part inside the prompt, and reasoning inside the output
INCLUSIVE = Usage(input_tokens=9000, output_tokens=800, reasoning_tokens=300, cached_tokens=4000)


def oracle(provider: str, model: str, u: Usage) -> float:
    if provider == "anthropic":
        usage = genai_prices.Usage(input_tokens=u.input_tokens + u.cached_tokens + u.cache_creation_tokens,
                                   cache_read_tokens=u.cached_tokens, cache_write_tokens=u.cache_creation_tokens,
                                   cache_write_1h_tokens=u.cache_creation_1h_tokens, output_tokens=u.output_tokens)
    else:
        usage = genai_prices.Usage(input_tokens=u.input_tokens, cache_read_tokens=u.cached_tokens,
                                   output_tokens=u.output_tokens, output_reasoning_tokens=u.reasoning_tokens)
    when = dt.datetime.now(dt.UTC)
    return float(genai_prices.calc_price(usage, model, provider_id=provider, genai_request_timestamp=when).total_price)


ENDPOINTS = {"claude": ("anthropic", "claude-sonnet-4-5", ANTHROPIC),
             "gpt": ("openai", "gpt-4o-mini", INCLUSIVE),
             "flash": ("google", "gemini-2.5-flash", INCLUSIVE)}


def request_for(surface: str, endpoint: str, stream: bool) -> tuple[str, dict]:
    ask = [{"role": "user", "content": "hi"}]
    if surface == "chat":
        body = {"model": endpoint, "messages": ask, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return "/openai/v1/chat/completions", body
    if surface == "responses":
        return "/openai/v1/responses", {"model": endpoint, "input": "hi", "stream": stream, "store": False}
    if surface == "anthropic":
        return "/anthropic/v1/messages", {"model": endpoint, "messages": ask, "max_tokens": 900, "stream": stream}
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/gemini/v1beta/models/{endpoint}:{verb}", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture
async def gw(fake_anthropic, fake_openai, fake_gemini, tmp_path):
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini, unsupported_params="drop")
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
@pytest.mark.parametrize("surface", ["chat", "responses", "anthropic", "gemini"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_cache_and_reasoning_tokens_cost_what_the_catalogue_says(gw, fake_anthropic, fake_openai,
                                                                        fake_gemini, endpoint, surface, stream):
    provider, model, native = ENDPOINTS[endpoint]
    fake = {"claude": fake_anthropic, "gpt": fake_openai, "flash": fake_gemini}[endpoint]
    fake.always(Behavior(text="ok", usage=native))
    path, body = request_for(surface, endpoint, stream)
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                    headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        await r.read()
        assert r.status == 200
    await asyncio.sleep(0.02)
    row = (await gw.ledger_rows())[-1]
    if provider == "anthropic":
        assert (row["input_tokens"], row["cached_input_tokens"], row["cache_creation_tokens"],
                row["cache_creation_1h_tokens"]) == (7000, 4000, 2500, 1000)
    else:
        assert (row["input_tokens"], row["cached_input_tokens"], row["reasoning_tokens"]) == (9000, 4000, 300)
    assert row["cost_usd"] == pytest.approx(oracle(provider, model, native), rel=1e-9)
    assert row["price_source"] == "catalogue" and model in row["price_version"]


@pytest.mark.parametrize("by_key", [True, False])
async def test_cache_hit_ratio_series_by_key_only_when_asked(fake_anthropic, fake_openai, fake_gemini, tmp_path,
                                                             by_key):
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini)
    cfg["metrics"] = {"prompt_cache_by_key": by_key}
    fake_anthropic.always(Behavior(text="ok", usage=ANTHROPIC))
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s, s.post(
                gw.url + "/anthropic/v1/messages", headers={"x-api-key": TEST_KEY},
                json={"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}) as r:
            assert r.status == 200
        text = await gw.metrics()
    key = "alice-key" if by_key else ""
    parts = {kind: metric_value(text, "relaygate_prompt_cache_tokens_total", key=key, type=kind)
             for kind in ("read", "write", "uncached")}
    assert parts == {"read": 4000, "write": 2500, "uncached": 3000}
    assert ("alice" in text) == by_key                       # by default metrics never name a key
    assert metric_value(text, "relaygate_tokens_total", type="cache_creation_1h") == 1000
