#!/usr/bin/env python3
"""What the MCP gateway adds to a tool call: ``tools/call`` directly to an ``mcp`` SDK server
and through ``/mcp/{server}`` (relay) and ``/mcp`` (aggregate), over real loopback HTTP.

Raw JSON-RPC POSTs on one kept-alive connection, one call at a time, after an initialize
(the relay keeps the upstream's session; the aggregate opens one upstream session per call).
Prints milliseconds per call (median, p90, p99). Numbers, not assertions.

    .venv/bin/python tests/bench/bench_mcp.py [-n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.gateway import run_gateway, settings_for
from support.mcp_server import serve

KEY = "rg-bench-key-0123456789"
ACCEPT = "application/json, text/event-stream"
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}


async def calls(url: str, n: int, tool: str) -> list[float]:
    headers = {"Authorization": f"Bearer {KEY}", "Accept": ACCEPT}
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=INIT, headers=headers) as r:
            await r.read()
            if "mcp-session-id" in r.headers:
                headers["mcp-session-id"] = r.headers["mcp-session-id"]
        async with s.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers) as r:
            await r.read()
        times = []
        for i in range(n):
            body = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                    "params": {"name": tool, "arguments": {"text": "hello"}}}
            start = time.perf_counter()
            async with s.post(url, json=body, headers=headers) as r:
                raw = await r.read()
            times.append((time.perf_counter() - start) * 1000)
            assert b"hello" in raw, raw[:200]
        return times


def report(name: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=100)
    print(f"{name:28s} median {statistics.median(times):6.2f} ms   p90 {q[89]:6.2f} ms   p99 {q[98]:6.2f} ms")


async def main(n: int) -> None:
    with serve("streamable_http") as (url, _), tempfile.TemporaryDirectory() as tmp:
        config = {"keys": [{"name": "bench", "key": KEY, "owner": "bench", "team": "bench"}],
                  "mcp_servers": {"tools": {"url": url}},
                  "mcp": {"policies": [{"keys": ["bench"], "servers": {"*": {"tools": ["*"]}}}]}}
        async with run_gateway(settings_for(config, ledger_path=f"{tmp}/l.db")) as gw:
            await calls(url, 20, "echo")                                  # warm up
            report("direct", await calls(url, n, "echo"))
            report("through /mcp/tools (relay)", await calls(gw.url + "/mcp/tools", n, "echo"))
            report("through /mcp (aggregate)", await calls(gw.url + "/mcp", max(20, n // 5), "tools__echo"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
