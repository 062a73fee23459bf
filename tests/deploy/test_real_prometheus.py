"""A real Prometheus server on loopback scrapes a running gateway under traffic.

Checks through the Prometheus HTTP API that the series the dashboard and the
rules use are recorded, including a recording rule from deploy/prometheus/rules.yml.
Needs the `prometheus` binary (Debian package `prometheus`): skipped without
it, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path

import aiohttp
import pytest
import yaml
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
BINARY = shutil.which("prometheus")

if BINARY is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("the prometheus binary is required under CI=true (apt-get install prometheus)")
    pytest.skip("prometheus binary not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def query(http: aiohttp.ClientSession, url: str, promql: str) -> list[dict]:
    async with http.get(url + "/api/v1/query", params={"query": promql}) as r:
        data = await r.json()
    assert data["status"] == "success", data
    return data["data"]["result"]


async def test_prometheus_scrapes_the_gateway_and_evaluates_the_rules(fake_openai, tmp_path):
    fake_openai.always(Behavior(usage=Usage(input_tokens=10, output_tokens=5)))
    settings = settings_for(openai_config(fake_openai.base_url), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        prom_port = free_port()
        rules = yaml.safe_load(RULES.read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"          # evaluate quickly in the test
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "scrape_configs": [{"job_name": "relaygate", "static_configs": [{"targets": [f"127.0.0.1:{gw.port}"]}]}],
        }))
        proc = await asyncio.create_subprocess_exec(
            BINARY, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}", stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        prom = f"http://127.0.0.1:{prom_port}"
        try:
            body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
            headers = {"Authorization": f"Bearer {TEST_KEY}"}
            for _ in range(40):                # traffic while Prometheus scrapes
                async with http.post(gw.url + "/v1/chat/completions", json=body, headers=headers) as r:
                    assert r.status == 200
                await asyncio.sleep(0.1)
            series: list[dict] = []
            for _ in range(100):
                try:
                    series = await query(http, prom, 'relaygate_requests_total{endpoint="chat",status="200"}')
                    recorded = await query(http, prom, "endpoint:relaygate_requests:rate5m")
                    if series and float(series[0]["value"][1]) == 40 and recorded:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            assert series and float(series[0]["value"][1]) == 40
            assert series[0]["metric"]["served_model"] == "gpt" and series[0]["metric"]["provider"] == "openai"
            assert recorded and recorded[0]["metric"]["endpoint"] == "chat"
            # by model: the provider model served, in the raw series and the per-model rules
            assert series[0]["metric"]["model"] == "gpt-4o-mini"
            for _ in range(50):
                by_model = await query(http, prom, "endpoint_provider_model:relaygate_requests:rate5m")
                spend = await query(http, prom, 'relaygate_cost_usd_total{model="gpt-4o-mini"}')
                if by_model and spend:
                    break
                await asyncio.sleep(0.2)
            assert by_model and by_model[0]["metric"]["model"] == "gpt-4o-mini"
            assert float(spend[0]["value"][1]) == pytest.approx(40 * (10 * 1.0 + 5 * 2.0) / 1e6)
            tokens = await query(http, prom, 'sum(relaygate_tokens_total{type="input"})')
            assert float(tokens[0]["value"][1]) == 400
            async with http.get(prom + "/api/v1/targets") as r:
                targets = (await r.json())["data"]["activeTargets"]
            assert targets[0]["health"] == "up"
        finally:
            proc.terminate()
            await proc.wait()
