"""``relaygate reconcile``: the ledger against OpenAI and Anthropic usage/cost exports.

The exports in tests/fixtures/exports are our own samples in the providers' documented
formats (OpenAI ``/v1/organization/usage/completions`` and ``/costs``, Anthropic
``usage_report/messages`` and ``cost_report`` with amounts in cents). The ledger is filled by
real traffic through the gateway to fake providers; one answer comes from the response cache
and must not count (no provider saw it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
import pytest
import yaml
from caching_support import three_provider_config
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, run_gateway, settings_for

from plugins.reports.exports import compare, match_model, read_export
from proxy.cli import main

EXPORTS = Path(__file__).parents[2] / "fixtures" / "exports"


@pytest.fixture
async def ledger_config(fake_anthropic, fake_openai, fake_gemini, tmp_path) -> Path:
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini,
                                cache={"mode": "exact", "ttl_seconds": 60, "backend": "memory"})
    settings = settings_for(cfg, ledger_path=str(tmp_path / "ledger.db"))
    fake_openai.always(Behavior(text="ok", usage=Usage(input_tokens=9000, output_tokens=800, cached_tokens=4000)))
    fake_anthropic.always(Behavior(text="ok", usage=Usage(input_tokens=3000, output_tokens=800, cached_tokens=4000,
                                                          cache_creation_tokens=2500, cache_creation_1h_tokens=1000)))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as s:
        hdrs = {"Authorization": f"Bearer {TEST_KEY}"}
        for text in ("one", "one", "two"):            # the second "one" is a response-cache hit
            async with s.post(gw.url + "/openai/v1/chat/completions", headers=hdrs, json={
                    "model": "gpt", "temperature": 0, "messages": [{"role": "user", "content": text}]}) as r:
                assert r.status == 200
        for text in ("a", "b"):
            async with s.post(gw.url + "/anthropic/v1/messages", headers=hdrs, json={
                    "model": "claude", "max_tokens": 50, "messages": [{"role": "user", "content": text}]}) as r:
                assert r.status == 200
        rows = await gw.ledger_rows()
        assert sum(r["cache_hit"] for r in rows) == 1
    cfg["storage"] = {"ledger": {"path": str(tmp_path / "ledger.db")}}
    path = tmp_path / "relaygate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def period() -> list[str]:
    today = dt.datetime.now(dt.UTC).date()
    return ["--since", today.isoformat(), "--until", (today + dt.timedelta(days=1)).isoformat()]


def test_openai_usage_and_costs_reconcile(ledger_config, capsys) -> None:
    status = main(["reconcile", str(EXPORTS / "openai-usage-completions.json"), str(EXPORTS / "openai-costs.json"),
                   "--config", str(ledger_config), *period()])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "gpt-4o-mini" in out and "DIFFERS" not in out
    assert out.count("reconciled: every difference within the tolerance") == 2


def test_anthropic_usage_reconciles_and_an_overbilled_cost_report_is_shown(ledger_config, capsys) -> None:
    status = main(["reconcile", str(EXPORTS / "anthropic-usage-report.json"), "--config", str(ledger_config),
                   *period()])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "cache_creation_1h_tokens" in out and "DIFFERS" not in out
    status = main(["reconcile", str(EXPORTS / "anthropic-cost-report-overbilled.json"),
                   "--config", str(ledger_config), *period()])
    out = capsys.readouterr().out
    assert status == 1
    line = next(ln for ln in out.splitlines() if "cost_usd" in ln)
    # the ledger: 2 x $0.033825 at the catalogue's prices; Anthropic's report: $0.07565 (an extra 0.8 cents)
    assert "0.067650" in line and "0.075650" in line and "-0.008000" in line and "DIFFERS" in line


def test_export_parsing_and_model_matching() -> None:
    kind, content, totals = read_export({"data": [{"results": [
        {"uncached_input_tokens": 10, "cache_read_input_tokens": 5, "cache_creation_5m_input_tokens": 2,
         "cache_creation_1h_input_tokens": 1, "output_tokens": 3, "model": "claude-x-20250101"}]}]})
    assert (kind, content) == ("anthropic", "usage")
    assert totals["claude-x-20250101"]["input_tokens"] == 15
    assert totals["claude-x-20250101"]["cache_creation_tokens"] == 3
    assert match_model("gpt-4o-mini-2024-07-18", ["gpt-4o", "gpt-4o-mini"]) == "gpt-4o-mini"
    assert match_model("gpt-4.1", ["gpt-4o"]) is None
    rows = compare({}, totals, kind, content)
    assert rows and all(r["note"] == "not in the ledger" for r in rows)
    with pytest.raises(ValueError, match="not a usage or cost export"):
        read_export({"rows": []})
