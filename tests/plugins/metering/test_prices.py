"""Prices out of the box: the genai-prices catalogue for every model it knows, the config's
``prices`` as the override, cost unknown (never 0) for a model neither knows, and ``relaygate prices``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import aiohttp
import genai_prices
import pytest
from genai_prices import data_snapshot
from plugins.metering.catalogue import lookup
from plugins.metering.pricing import price_source
from proxy.cli import main
from proxy.usage import Usage
from proxy.zeroconf import settings_from_env
from support.behavior import Behavior
from support.behavior import Usage as FakeUsage
from support.gateway import TEST_KEY, metric_value, run_gateway

TODAY = dt.date.today()


def catalogue_cost(provider: str, model: str, u: Usage) -> Decimal:
    """genai-prices' own answer for our usage (its input_tokens include cache reads and writes)."""
    snap = data_snapshot.get_snapshot()
    found, info = snap.find_provider_model(model, None, provider, None)
    usage = genai_prices.Usage(input_tokens=u.input_tokens + u.cache_creation_tokens,
                               cache_read_tokens=u.cached_input_tokens, cache_write_tokens=u.cache_creation_tokens,
                               output_tokens=u.output_tokens, output_reasoning_tokens=u.reasoning_tokens)
    when = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    return info.calc_price(usage, found, genai_request_timestamp=when).total_price


@pytest.mark.parametrize(("ptype", "catalogue_provider", "model", "usage"), [
    ("openai", "openai", "gpt-4o-mini", Usage(input_tokens=1000, output_tokens=300, cached_input_tokens=400,
                                              reasoning_tokens=100)),
    ("anthropic", "anthropic", "claude-opus-5-5", Usage(input_tokens=2000, output_tokens=500, cached_input_tokens=1500,
                                                        cache_creation_tokens=700)),
    ("gemini", "google", "gemini-2.5-pro", Usage(input_tokens=250_000, output_tokens=1000,
                                                 cached_input_tokens=10_000)),        # above its 200k tier
    ("openai", "openai", "gpt-5.5", Usage(input_tokens=300_000, output_tokens=2000, cached_input_tokens=100_000,
                                          reasoning_tokens=1500)),                   # above its 272k tier
])
def test_catalogue_cost_equals_genai_prices(ptype, catalogue_provider, model, usage) -> None:
    source = price_source(ptype, "", model, {})
    assert source.kind == "catalogue"
    cost = source.cost(usage)
    assert cost and cost == pytest.approx(float(catalogue_cost(catalogue_provider, model, usage)), rel=1e-9)


def test_reasoning_at_its_own_catalogue_rate() -> None:
    """Perplexity's deep research prices reasoning apart; found by its API URL behind openai_compatible."""
    found = lookup("openai_compatible", "https://api.perplexity.ai", "sonar-deep-research", TODAY)
    assert found is not None and "reasoning" in found.priced
    assert found.rates["reasoning"] != found.rates["output"]
    u = Usage(input_tokens=100, output_tokens=1000, reasoning_tokens=600)
    assert price_source("openai_compatible", "https://api.perplexity.ai", "sonar-deep-research", {}).cost(u) == \
        pytest.approx(float(catalogue_cost("perplexity", "sonar-deep-research", u)))


def test_config_prices_override_and_unknown_models_cost_nothing_known() -> None:
    u = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert price_source("openai", "", "gpt-4o-mini", {"input": 1.0, "output": 2.0}).cost(u) == pytest.approx(3.0)
    assert price_source("openai", "", "gpt-4o-mini", {"input": 0, "output": 0}).cost(u) == 0  # "free", said so
    unknown = price_source("openai_compatible", "http://127.0.0.1:8000/v1", "my-llama", {})
    assert not unknown.known and unknown.cost(u) is None
    assert unknown.cost(Usage()) == 0.0                  # no tokens used: nothing to price


def zero_config(fake_openai, fake_anthropic, tmp_path) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-up", "OPENAI_BASE_URL": fake_openai.base_url,
            "ANTHROPIC_API_KEY": "sk-ant", "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
            "RELAYGATE_API_KEYS": TEST_KEY, "RELAYGATE_LEDGER_PATH": str(tmp_path / "ledger.db")}


async def test_zero_config_requests_record_the_catalogue_cost(fake_openai, fake_anthropic, tmp_path) -> None:
    fake_openai.script(Behavior(usage=FakeUsage(input_tokens=1200, output_tokens=300, cached_tokens=800,
                                                reasoning_tokens=200)),
                       Behavior(usage=FakeUsage(input_tokens=50, output_tokens=10)))
    fake_anthropic.script(Behavior(usage=FakeUsage(input_tokens=100, output_tokens=40, cached_tokens=3000,
                                                   cache_creation_tokens=500)))
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    settings = settings_from_env(zero_config(fake_openai, fake_anthropic, tmp_path))
    async with run_gateway(settings) as gw, aiohttp.ClientSession(headers=headers) as http:
        for model in ("openai/gpt-4o-mini", "openai/my-local-llama"):
            async with http.post(gw.url + "/v1/chat/completions",
                                 json={"model": model, "messages": [{"role": "user", "content": "hi"}]}) as r:
                assert r.status == 200, await r.text()
        async with http.post(gw.url + "/anthropic/v1/messages", json={
                "model": "anthropic/claude-opus-5-5", "max_tokens": 50,
                "messages": [{"role": "user", "content": "hi"}]}) as r:
            assert r.status == 200, await r.text()
        rows = {r["provider_model"]: r for r in await gw.ledger_rows()}
        metrics = await gw.metrics()
    gpt = rows["gpt-4o-mini"]
    assert (gpt["input_tokens"], gpt["cached_input_tokens"], gpt["reasoning_tokens"]) == (1200, 800, 200)
    want = catalogue_cost("openai", "gpt-4o-mini", Usage(input_tokens=1200, output_tokens=300,
                                                          cached_input_tokens=800, reasoning_tokens=200))
    assert gpt["cost_usd"] > 0 and gpt["cost_usd"] == pytest.approx(float(want))
    # cached input at its own (lower) rate: less than the same tokens all at the input rate
    assert gpt["cost_usd"] < (1200 * 0.15 + 300 * 0.6) / 1e6
    opus = rows["claude-opus-5-5"]
    assert (opus["input_tokens"], opus["cached_input_tokens"], opus["cache_creation_tokens"]) == (3100, 3000, 500)
    want = catalogue_cost("anthropic", "claude-opus-5-5", Usage(input_tokens=3100, output_tokens=40,
                                                                 cached_input_tokens=3000, cache_creation_tokens=500))
    assert opus["cost_usd"] == pytest.approx(float(want))
    assert rows["my-local-llama"]["cost_usd"] is None                 # unknown, not 0
    assert metric_value(metrics, "relaygate_unpriced_requests_total", endpoint="openai/*",
                        model="my-local-llama") == 1
    assert metric_value(metrics, "relaygate_cost_usd_total", model="gpt-4o-mini") == pytest.approx(float(
        catalogue_cost("openai", "gpt-4o-mini", Usage(input_tokens=1200, output_tokens=300, cached_input_tokens=800,
                                                      reasoning_tokens=200))))


def test_prices_command_names_rates_and_source(monkeypatch, capsys, tmp_path) -> None:
    for var in ("RELAYGATE_CONFIG", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert main(["prices", "openai/gpt-4o-mini"]) == 0
    out = capsys.readouterr().out
    assert f"genai-prices {genai_prices.__version__}" in out and "prices dated up to 20" in out
    assert "input" in out and "0.1500" in out and "0.0750" in out and "0.6000" in out
    assert main(["prices", "claude-opus-5-5", "--provider", "anthropic"]) == 0
    out = capsys.readouterr().out
    assert "cache write" in out and "5.0000" in out and "20.0000" in out
    assert main(["prices", "openai/my-local-llama"]) == 1
    assert "no price known" in capsys.readouterr().out
    config = tmp_path / "relaygate.yaml"
    config.write_text("providers: {openai: {type: openai, api_key: sk}}\n"
                      "endpoints: {chat: {served_models: [{name: gpt, provider: openai, model: gpt-4o-mini,"
                      " prices: {input: 1.0, output: 2.0}}]}}\n")
    assert main(["prices", "chat", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "source: config" in out and "1.0000" in out and "2.0000" in out and "genai-prices" not in out
