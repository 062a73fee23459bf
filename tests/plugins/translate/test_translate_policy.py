"""Honest gaps end to end: what the target cannot express is rejected (400 naming it) or dropped and declared."""

from __future__ import annotations

import aiohttp
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for


def config(anthropic_url: str) -> dict:
    served = [{"name": "claude", "provider": "ant", "model": "claude-sonnet-4-6"}]
    return {"providers": {"ant": {"type": "anthropic", "base_url": anthropic_url, "api_key": "sk-ant"}},
            "endpoints": {"strict": {"served_models": served},
                          "lenient": {"served_models": served, "unsupported_params": "drop"}},
            "keys": [{"name": "k", "key": TEST_KEY}]}


@pytest.fixture
async def gw(fake_anthropic, tmp_path):
    async with run_gateway(settings_for(config(fake_anthropic.base_url), ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


async def chat(gw, body: dict) -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + "/v1/chat/completions", json=body,
                                                      headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, dict(r.headers), await r.json()


BODY = {"messages": [{"role": "user", "content": "hi"}], "logprobs": True, "n": 2, "seed": 7}


async def test_reject_policy_names_the_parameter_and_never_calls_the_provider(gw, fake_anthropic):
    status, _, body = await chat(gw, {**BODY, "model": "strict"})
    assert status == 400
    assert body["error"]["param"] == "n" and "n" in body["error"]["message"]
    assert fake_anthropic.requests == []


async def test_drop_policy_declares_what_it_dropped_in_a_header_and_a_metric(gw, fake_anthropic):
    fake_anthropic.script(Behavior(text="hello"))
    status, headers, body = await chat(gw, {**BODY, "model": "lenient", "temperature": 0.5})
    assert status == 200 and body["choices"][0]["message"]["content"] == "hello"
    assert headers["x-relaygate-dropped"] == "n,logprobs,seed"
    sent = fake_anthropic.last.body
    assert "n" not in sent and "logprobs" not in sent and "seed" not in sent
    assert sent["temperature"] == 0.5                              # what it can express still goes
    text = await gw.metrics()
    for param in ("n", "logprobs", "seed"):
        assert metric_value(text, "relaygate_dropped_parameters_total", endpoint="lenient", parameter=param) == 1


async def test_anthropic_overloaded_becomes_503_in_the_openai_shape(gw, fake_anthropic):
    fake_anthropic.always(Behavior(status=529))
    status, _, body = await chat(gw, {"model": "strict", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 503
    assert body["error"]["code"] == "overloaded_error" and body["error"]["message"] == "Overloaded"
