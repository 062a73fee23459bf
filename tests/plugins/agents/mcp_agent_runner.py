"""Run real Codex against an MCP server through the gateway's ``/mcp/{server}`` (inside ``unshare --net``).

The gateway serves Codex's model (a rule-driven fake OpenAI) and relays ``/mcp/tools`` to the
``mcp`` SDK test server; the key's policy grants ``echo`` and ``add`` only (``delete_repo``,
``whoami``, ``leak`` are denied). Codex is set up with ``relaygate agent-env``'s own output:
the model part from ``setup_for`` and the MCP part exactly as ``relaygate agent-env codex
--part mcp --mcp-server tools`` prints it, appended to its config.toml (plus the approval
mode a non-interactive run needs). The fake model calls the MCP echo tool when Codex offers
it (in the Responses ``namespace`` tool Codex builds from the server's ``tools/list``), then
answers DONE. Prints one ``RESULT {...}`` line
with Codex's exit code and output, the ledger rows, what the MCP server received and the
tool names Codex offered the model. Usage::

    python mcp_agent_runner.py CACHE_DIR WORK_DIR [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))          # tests/ (support)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))          # the repo (proxy, plugins)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_e2e_runner import _has_tool_result, agent_environment, run_agent
from agents_support import agent_config
from support.behavior import Behavior, ToolCall
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.mcp_server import serve

TASK = "Use the MCP echo tool to echo the text relaygate-mcp-ok. Then reply with the single word DONE."
ECHOED = "relaygate-mcp-ok"
#: a model outside Codex's catalogue: Codex then offers the MCP tools to the model directly
#: (for its catalogued models it defers them behind its own ``tool_search``)
CODEX_MODEL = "gpt-4.1"
APPROVE = 'default_tools_approval_mode = "approve"\n'


def mcp_tools(body: dict[str, Any]) -> list[str]:
    """The gateway's MCP tools Codex offers the model: ``<namespace>__<tool>`` (Codex groups an MCP
    server's tools in a Responses ``namespace`` tool named after its entry, ``mcp__relaygate_tools``)."""
    return [f"{tool['name']}__{inner.get('name')}" for tool in body.get("tools") or []
            if isinstance(tool, dict) and tool.get("type") == "namespace" and "relaygate" in str(tool.get("name"))
            for inner in tool.get("tools") or []]


class ScriptedModel(FakeOpenAI):
    """Calls the MCP echo tool when it is offered; after its result, answers DONE."""

    def _next_behavior(self, path: str, raw_body: bytes = b"") -> Behavior:
        body = self.requests[-1].body if self.requests else None
        body = body if isinstance(body, dict) else {}
        if _has_tool_result(body):
            return Behavior(text="The MCP tool answered. DONE")
        echo = next((name for name in mcp_tools(body) if name.endswith("__echo")), None)
        if echo:
            return Behavior(tool_calls=[ToolCall(echo, {"text": ECHOED})])
        return Behavior(text="No MCP tool was offered.")

    def _output_items(self, b: Behavior) -> list[dict]:
        """A call of a namespaced tool names its namespace, as the Responses API answers it."""
        items = super()._output_items(b)
        for item in items:
            namespace, _, name = str(item.get("name")).rpartition("__")
            if item["type"] == "function_call" and namespace.startswith("mcp__"):
                item.update(namespace=namespace, name=name)
        return items


def mcp_part(url: str) -> str:
    """What ``relaygate agent-env codex --part mcp --mcp-server tools`` prints."""
    done = subprocess.run([sys.executable, "-m", "proxy", "agent-env", "codex", "--part", "mcp", "--url", url,
                           "--mcp-server", "tools"], check=True, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], env={**os.environ, "RELAYGATE_API_KEY": ""})
    return done.stdout


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    model = await ScriptedModel().start()
    home, workdir = args.work / "home", args.work / "ws"
    workdir.mkdir(parents=True, exist_ok=True)
    with serve("streamable_http", "tools") as (mcp_url, log):
        keys = [{"name": "alice-laptop", "key": TEST_KEY, "owner": "alice", "team": "dev"}]
        config = agent_config({"openai": model.base_url, "anthropic": model.base_url, "gemini": model.base_url},
                              keys=keys, mcp_servers={"tools": {"url": mcp_url}},
                              mcp={"policies": [{"teams": ["dev"], "servers": {"tools": {"tools": ["echo", "add"]}}}]})
        config["aliases"]["*"] = {"openai": "openai-gpt", "unified": "openai-gpt"}
        async with run_gateway(settings_for(config, ledger_path=str(args.work / "ledger.db"))) as gw:
            env, _ = agent_environment("codex", gw.url, TEST_KEY, home, "openai", CODEX_MODEL)
            mcp_text = mcp_part(gw.url)
            codex_config = home / ".codex" / "config.toml"
            # + the one throw-away-run addition: ``codex exec`` cannot ask to approve a tool call
            # (its table is the file's last, so the key lands in it)
            codex_config.write_text(codex_config.read_text() + "\n" + mcp_text + APPROVE)
            exe = args.cache / "codex" / "node_modules" / ".bin" / "codex"
            cmd = [str(exe), "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never",
                   "-s", "workspace-write", "--json", TASK]
            rc, out, err, elapsed = await run_agent(cmd, workdir, env, args.timeout)
            rows = await gw.ledger_rows()
    await model.stop()
    result: dict[str, Any] = {
        "rc": rc, "elapsed": round(elapsed, 1), "mcp_part": mcp_text, "config": codex_config.read_text(),
        "stdout": out.decode(errors="replace")[-6000:], "stderr": err.decode(errors="replace")[-4000:],
        "ledger": [{k: r.get(k) for k in ("surface", "endpoint", "provider", "served_model", "owner", "status",
                                          "outcome")} for r in rows],
        "mcp_calls": [[tool, arg] for tool, arg in log.calls],
        "mcp_tools_offered": [mcp_tools(r.body) if isinstance(r.body, dict) else [] for r in model.requests],
    }
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
