"""`relaygate serve --workers 2`: one port, merged Prometheus metrics, one shared ledger, clean exit."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
from resilience_helpers import AUTH, CHAT
from serve_helpers import Server, free_port, ledger_rows, write_config
from support.gateway import metric_value


async def test_two_workers_share_the_port_the_metrics_and_the_ledger(fake_openai, tmp_path):
    port, ledger, metrics_dir = free_port(), tmp_path / "ledger.db", tmp_path / "prom"
    write_config(tmp_path / "c.yaml", fake_openai.base_url, port, ledger)
    server = await Server(tmp_path / "c.yaml", port, "--workers", "2",
                          env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}).start()
    sent = 60
    try:
        async def one() -> int:
            # A new connection each time, so the kernel spreads them over the workers.
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
                async with s.post(server.url + "/v1/chat/completions", json=CHAT, headers=AUTH) as r:
                    await r.read()
                    return r.status

        statuses = []
        for _ in range(sent // 10):
            statuses += await asyncio.gather(*(one() for _ in range(10)))
        assert statuses == [200] * sent
        pids = {f.stem.rsplit("_", 1)[-1] for f in metrics_dir.glob("counter_*.db")}
        assert len(pids) == 2, f"requests were not spread over both workers: {pids}"

        async def totals() -> tuple[float, float]:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
                async with s.get(server.url + "/metrics") as r:
                    text = await r.text()
            return (metric_value(text, "relaygate_requests_total", endpoint="chat", status="200"),
                    metric_value(text, "relaygate_in_flight_requests"))
        for _ in range(4):                                 # whichever worker answers, totals are merged
            requests, in_flight = await totals()
            assert requests == sent
        await asyncio.sleep(0.7)                           # live gauges are refreshed every 0.5 s
        assert (await totals())[1] == 0

        server.signal(signal.SIGTERM)
        assert await server.wait() == 0
        rows = ledger_rows(ledger)
        assert len(rows) == sent and len({r["request_id"] for r in rows}) == sent
        assert not list(metrics_dir.glob("gauge_live*"))  # dead workers were marked
    finally:
        await server.stop()
