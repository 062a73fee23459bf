"""count_tokens / countTokens on a translated endpoint: the target provider's exact count."""

from __future__ import annotations

import aiohttp
import pytest
from support.gateway import TEST_KEY, run_gateway, settings_for


@pytest.fixture
async def gw(fake_anthropic, fake_gemini, tmp_path):
    fake_anthropic.count_tokens_result = 321
    cfg = {"providers": {"ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "a"},
                         "gem": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "g"}},
           "endpoints": {"on-gemini": {"served_models": [{"name": "g", "provider": "gem",
                                                          "model": "gemini-2.5-flash"}]},
                         "on-claude": {"served_models": [{"name": "c", "provider": "ant", "model": "claude-x"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


async def post(gw, path: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                      headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, await r.json()


async def test_anthropic_count_tokens_served_by_gemini_count_tokens(gw, fake_gemini):
    status, body = await post(gw, "/anthropic/v1/messages/count_tokens", {
        "model": "on-gemini", "system": "Be brief.", "messages": [{"role": "user", "content": "Hello"}]})
    assert (status, body) == (200, {"input_tokens": 12})
    sent = fake_gemini.last
    assert sent.path.endswith("/models/gemini-2.5-flash:countTokens")
    req = sent.body["generateContentRequest"]
    assert req["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert req["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


async def test_gemini_count_tokens_served_by_anthropic_count_tokens(gw, fake_anthropic):
    status, body = await post(gw, "/gemini/v1beta/models/on-claude:countTokens",
                              {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
    assert (status, body) == (200, {"totalTokens": 321})
    assert fake_anthropic.last.path == "/v1/messages/count_tokens"
    assert fake_anthropic.last.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
