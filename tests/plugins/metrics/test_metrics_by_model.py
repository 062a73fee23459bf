"""Metrics carry the provider model served (``model``), bounded per endpoint by
``metrics.max_models_per_endpoint``: later models are counted as ``other``."""

from __future__ import annotations

import aiohttp
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for


def wildcard_config(base_url: str, cap: int) -> dict:
    return {
        "providers": {"openai": {"type": "openai", "base_url": base_url, "api_key": "sk-up"}},
        "endpoints": {"openai/*": {"task": "any", "served_models": [
            {"name": "openai", "provider": "openai", "model": "*", "prices": {"input": 1.0, "output": 2.0}}]}},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
        "metrics": {"max_models_per_endpoint": cap},
    }


async def test_wildcard_models_get_their_own_series_up_to_the_cap(fake_openai, tmp_path) -> None:
    fake_openai.always(Behavior(usage=Usage(input_tokens=10, output_tokens=5)))
    settings = settings_for(wildcard_config(fake_openai.base_url, cap=2), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        for model in ("gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "gpt-5.5", "o3"):
            async with http.post(gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {TEST_KEY}"},
                                 json={"model": f"openai/{model}",
                                       "messages": [{"role": "user", "content": "hi"}]}) as r:
                assert r.status == 200, await r.text()
        text = await gw.metrics()
    requests = {m: metric_value(text, "relaygate_requests_total", endpoint="openai/*", model=m)
                for m in ("gpt-4o-mini", "gpt-4o", "other", "gpt-5.5", "o3")}
    assert requests == {"gpt-4o-mini": 2, "gpt-4o": 1, "other": 2, "gpt-5.5": 0, "o3": 0}
    assert metric_value(text, "relaygate_model_label_overflow_total", endpoint="openai/*") == 2
    for name in ("relaygate_tokens_total", "relaygate_cost_usd_total", "relaygate_time_to_first_token_seconds_count",
                 "relaygate_request_duration_seconds_count", "relaygate_upstream_duration_seconds_count"):
        assert metric_value(text, name, model="gpt-4o") > 0, name
        assert metric_value(text, name, model="other") > 0, name
    assert 'model="gpt-5.5"' not in text and 'model="o3"' not in text
    assert metric_value(text, "relaygate_cost_usd_total", model="gpt-4o-mini") == 2 * (10 * 1.0 + 5 * 2.0) / 1e6
