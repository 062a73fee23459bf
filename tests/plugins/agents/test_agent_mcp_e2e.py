"""Real Codex using an MCP server through the gateway (opt-in: RELAYGATE_AGENT_TESTS=1, marker ``agents``).

mcp_agent_runner.py runs, inside a loopback-only network namespace, the gateway with a fake
OpenAI model and the ``mcp`` SDK test server behind ``/mcp/tools``; Codex is configured with
exactly the MCP entry ``relaygate agent-env codex --part mcp --mcp-server tools`` prints. The
key's policy grants ``echo`` and ``add``; the fake model calls the echo tool Codex offers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.gateway import TEST_KEY
from test_agent_cli_e2e import CACHE, install, isolate

pytestmark = [
    pytest.mark.agents,
    pytest.mark.skipif(os.environ.get("RELAYGATE_AGENT_TESTS") != "1",
                       reason="real agent CLIs: set RELAYGATE_AGENT_TESTS=1 (installs them from npm)"),
    pytest.mark.timeout(600),
]

RUNNER = Path(__file__).with_name("mcp_agent_runner.py")


def test_codex_calls_an_mcp_tool_through_the_gateway_and_sees_only_granted_tools(tmp_path):
    install("codex")
    cmd = [*isolate(), sys.executable, str(RUNNER), str(CACHE), str(tmp_path), "--timeout", "240"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=420)
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("RESULT ")), None)
    assert line, f"runner failed (rc {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    r = json.loads(line[len("RESULT "):])
    output = r["stdout"] + r["stderr"]
    print(f"\ncodex+mcp: rc={r['rc']} elapsed={r['elapsed']}s mcp_calls={r['mcp_calls']} ledger={r['ledger']}")
    # Codex was configured with agent-env's entry: /mcp/tools, the key from $RELAYGATE_API_KEY only
    assert "/mcp/tools" in r["mcp_part"] and "bearer_token_env_var" in r["mcp_part"]
    assert TEST_KEY not in r["mcp_part"] + r["config"] and r["mcp_part"].split("\n", 1)[1].strip() in r["config"]
    assert r["rc"] == 0 and "DONE" in r["stdout"], output[-3000:]
    # the tool call reached the SDK server through the gateway
    assert r["mcp_calls"] == [["echo", "relaygate-mcp-ok"]], (r["mcp_calls"], output[-3000:])
    tool_rows = [row for row in r["ledger"] if row["surface"] == "mcp"]
    assert len(tool_rows) == 1, r["ledger"]
    assert tool_rows[0]["endpoint"] == "mcp/tools" and tool_rows[0]["served_model"] == "echo"
    assert tool_rows[0]["owner"] == "alice" and tool_rows[0]["outcome"] == "ok", tool_rows
    # Codex's tools/list through the gateway held the granted tools only: what it offered the model
    offered = r["mcp_tools_offered"]
    assert offered and all(names == ["mcp__relaygate_tools__add", "mcp__relaygate_tools__echo"]
                           for names in offered), offered          # never delete_repo, whoami or leak
    events = [json.loads(ln) for ln in r["stdout"].splitlines() if ln.startswith("{")]
    mcp_items = [e["item"] for e in events if e.get("type") == "item.completed"
                 and e["item"].get("type") == "mcp_tool_call"]
    assert len(mcp_items) == 1 and mcp_items[0]["status"] == "completed", events[-5:]
    assert mcp_items[0]["server"] == "relaygate-tools" and "relaygate-mcp-ok" in json.dumps(mcp_items[0]["result"])
