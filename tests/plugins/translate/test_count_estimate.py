"""count_tokens on a provider that cannot count: a local estimate, clearly marked, no provider call."""

from __future__ import annotations

import aiohttp
import anthropic
from support.gateway import TEST_KEY, run_gateway, settings_for

from plugins.translate.counting import estimate_tokens


async def test_count_tokens_on_an_openai_compatible_model_is_a_marked_estimate(fake_openai, tmp_path):
    cfg = {"providers": {"vllm": {"type": "openai_compatible", "base_url": fake_openai.base_url}},
           "endpoints": {"llama": {"served_models": [{"name": "l", "provider": "vllm", "model": "llama"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    body = {"model": "llama", "system": "Be brief.", "messages": [{"role": "user", "content": "Hello " * 100}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        client = anthropic.AsyncAnthropic(base_url=gw.url + "/anthropic", api_key=TEST_KEY, max_retries=0)
        raw = await client.messages.with_raw_response.count_tokens(**body)
        assert raw.headers["x-relaygate-token-count"] == "estimate"
        assert (await raw.parse()).input_tokens == estimate_tokens(body)
        async with aiohttp.ClientSession() as s, s.post(
                gw.url + "/gemini/v1beta/models/llama:countTokens", headers={"x-goog-api-key": TEST_KEY},
                json={"contents": [{"role": "user", "parts": [{"text": "Hello " * 100}]}]}) as r:
            assert r.status == 200 and r.headers["x-relaygate-token-count"] == "estimate"
            assert (await r.json())["totalTokens"] > 100
        assert fake_openai.requests == []                # nothing reached a provider ...
        assert await gw.ledger_rows() == []              # ... so no ledger row


def test_estimate_grows_with_the_prompt():
    short = estimate_tokens({"messages": [{"role": "user", "content": "hi"}]})
    long = estimate_tokens({"messages": [{"role": "user", "content": "hi " * 1000}]})
    assert 1 <= short < long and 600 < long < 1000
