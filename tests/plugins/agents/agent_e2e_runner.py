"""Run one real coding-agent CLI against the gateway and a rule-driven fake upstream.

Started by test_agent_cli_e2e.py inside a network namespace that has only loopback
(``unshare --net``): it brings ``lo`` up, starts the fakes and the gateway on 127.0.0.1,
runs the agent with a clean environment built from ``relaygate agent-env``'s own output,
and prints one JSON line (``RESULT {...}``) with the agent's exit code, its output, the
ledger rows and the upstream calls. Usage::

    python agent_e2e_runner.py AGENT CACHE_DIR WORK_DIR [--scenario ok|disabled] [--via anthropic]
                               [--zero-config --model PROVIDER/MODEL]

``--zero-config`` builds the gateway with no config file: ``settings_from_env`` with the SDK
variables pointing at the fakes (wildcard endpoints ``openai/*``, ``anthropic/*``, ``gemini/*``,
policy ``agents``), and ``--model`` is the model the agent asks for (``relaygate agent-env --model``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))          # tests/ (support)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))          # the repo (proxy, plugins)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from agents_support import agent_config
from support.behavior import Behavior, ToolCall, Usage
from support.fake_anthropic import FakeAnthropic
from support.fake_gemini import FakeGemini
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for

from plugins.agents.agent_env import setup_for
from plugins.openai.compaction import COMPACTION_PROMPT
from proxy.zeroconf import settings_from_env

TASK = "Run the shell command: echo hi. Then reply with the single word DONE."
SHELL_TOOLS = {"Bash": {"command": "echo hi", "description": "Print hi"},
               "bash": {"command": "echo hi", "description": "Print hi"},
               "exec_command": {"cmd": "echo hi"},
               "run_shell_command": {"command": "echo hi", "description": "Print hi"}}
PACKAGES = {"claude": "claude", "codex": "codex", "gemini": "gemini", "opencode": "opencode"}


def _tool_names(body: dict[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            names.append(tool.get("name") or (tool.get("function") or {}).get("name") or "")
            names += [d.get("name", "") for d in tool.get("functionDeclarations") or []]
    return names


def _has_tool_result(body: dict[str, Any]) -> bool:
    text = json.dumps(body.get("messages") or body.get("input") or body.get("contents") or [])
    return any(marker in text for marker in ('"tool_result"', '"function_call_output"', '"role": "tool"',
                                             '"functionResponse"'))


#: input tokens the first tool call reports (--compact-limit: twice the limit, so the agent must
#: compact its context before it sends the tool's result)
FIRST_CALL_INPUT_TOKENS: int | None = None


#: words of Codex's own compaction prompt (its local compaction: a normal request asking for a summary)
CODEX_COMPACT_PROMPT = "seamlessly continue the work"
#: what the fake model "summarises" when the gateway (or Codex) compacts with it
SUMMARY = "The user asked to run echo hi; the command ran and printed hi. Next: reply DONE."


def decide(body: dict[str, Any]) -> Behavior:
    """The capture server's rules: answer a tool result (or a compacted conversation that holds one)
    with DONE, call the shell tool when offered; as the compacting model, summarise."""
    text = json.dumps(body)
    if COMPACTION_PROMPT[:60] in text or CODEX_COMPACT_PROMPT in text:
        return Behavior(text=SUMMARY)
    if _has_tool_result(body) or SUMMARY in text:
        return Behavior(text="Tool result received: hi. DONE")
    for name in _tool_names(body):
        if name in SHELL_TOOLS:
            usage = Usage(input_tokens=FIRST_CALL_INPUT_TOKENS) if FIRST_CALL_INPUT_TOKENS else None
            return Behavior(tool_calls=[ToolCall(name, SHELL_TOOLS[name])], usage=usage)
    return Behavior(text="Hello from the fake model. DONE")


def dropped_parameters(metrics: str) -> dict[str, float]:
    """``relaygate_dropped_parameters_total`` by parameter (summed over endpoints)."""
    out: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("relaygate_dropped_parameters_total{") and 'parameter="' in line:
            param = line.split('parameter="', 1)[1].split('"', 1)[0]
            out[param] = out.get(param, 0.0) + float(line.rpartition(" ")[2])
    return out


def rule_driven(cls: type) -> type:
    class RuleDriven(cls):  # type: ignore[misc,valid-type]
        def _next_behavior(self, path: str, raw_body: bytes = b"") -> Behavior:
            body = self.requests[-1].body if self.requests else None
            return decide(body if isinstance(body, dict) else {})
    return RuleDriven


def agent_command(agent: str, bin_dir: Path, model: str | None) -> list[str]:
    exe = str(bin_dir / PACKAGES[agent])
    if agent == "claude":
        return [exe, "-p", TASK, "--allowedTools", "Bash(echo:*)", "--output-format", "json"]
    if agent == "codex":
        return [exe, "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never", "-s", "workspace-write",
                "--json", TASK]
    if agent == "gemini":
        return [exe, "-p", TASK, "--yolo", "-o", "json", "-m", model or "gemini-3.8-flash"]
    return [exe, "run", "-m", f"relaygate/{model}", "--format", "json", TASK]


async def run_agent(cmd: list[str], workdir: Path, env: dict[str, str],
                    timeout: float) -> tuple[int | None, bytes, bytes, float]:
    """Run an agent's command to its end or *timeout* (then killed: rc None); (rc, stdout, stderr, seconds)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        rc: int | None = proc.returncode
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        rc = None
    return rc, out, err, time.monotonic() - started


def agent_environment(agent: str, url: str, key: str, home: Path, via: str,
                      model: str | None = None) -> tuple[dict[str, str], str | None]:
    """The agent-env set-up (env and config file), plus what a throw-away test run needs."""
    setup = setup_for(agent, url, key, model, via=via)
    env = {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8", "TERM": "dumb", **setup.env}
    if setup.config_path:
        path = Path(setup.config_path.replace("${CODEX_HOME:-$HOME/.codex}", str(home / ".codex"))
                    .replace("$HOME", str(home)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(setup.config_text)
    if agent == "gemini":
        env["GEMINI_CLI_TRUST_WORKSPACE"] = "true"
    if agent == "opencode":
        config = json.loads(env["OPENCODE_CONFIG_CONTENT"])
        config["permission"] = {"bash": "allow"}
        env["OPENCODE_CONFIG_CONTENT"] = json.dumps(config)
        env["OPENCODE_DISABLE_LSP_DOWNLOAD"] = env["OPENCODE_DISABLE_DEFAULT_PLUGINS"] = "1"
        model = config["model"].split("/", 1)[1]
    return env, model


def codex_options(path: Path, websocket: bool, compact_limit: int | None) -> None:
    """Codex's WebSocket transport for the gateway provider, and/or an early auto-compaction."""
    text = path.read_text()
    if websocket:
        text = text.replace('wire_api = "responses"\n', 'wire_api = "responses"\nsupports_websockets = true\n')
    if compact_limit:
        text = f"model_auto_compact_token_limit = {compact_limit}\n" + text
    path.write_text(text)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("agent", choices=sorted(PACKAGES))
    ap.add_argument("cache", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--scenario", choices=("ok", "disabled"), default="ok")
    ap.add_argument("--via", default="anthropic")
    ap.add_argument("--cross", action="store_true", help="serve every agent from another provider (translation)")
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--refusal-status", type=int, help="agents.refusal_status for this agent kind")
    ap.add_argument("--zero-config", action="store_true",
                    help="no config file: settings_from_env with the fakes' base URLs")
    ap.add_argument("--model", help="the model the agent asks for (agent-env --model), "
                                    "e.g. anthropic/claude-sonnet-4-6")
    ap.add_argument("--websocket", action="store_true", help="Codex: the Responses WebSocket transport")
    ap.add_argument("--compact-limit", type=int, help="Codex: model_auto_compact_token_limit (compacts early)")
    args = ap.parse_args()
    if args.zero_config and (args.cross or args.refusal_status or args.scenario != "ok"):
        ap.error("--zero-config takes no --cross, --refusal-status or --scenario")
    if args.compact_limit:
        global FIRST_CALL_INPUT_TOKENS
        FIRST_CALL_INPUT_TOKENS = 2 * args.compact_limit
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    fakes = {"openai": await rule_driven(FakeOpenAI)().start(),
             "anthropic": await rule_driven(FakeAnthropic)().start(),
             "gemini": await rule_driven(FakeGemini)().start()}
    keys = [{"name": "alice-laptop", "key": TEST_KEY, "owner": "alice", "team": "dev",
             "disabled": args.scenario == "disabled"}]
    config = agent_config({k: f.base_url for k, f in fakes.items()}, keys=keys)
    config["aliases"]["*"] = {"anthropic": "anthropic-sonnet", "openai": "openai-gpt", "gemini": "gemini-flash",
                              "unified": "openai-gpt"}
    if args.cross:
        other = {"anthropic": "openai-gpt", "openai": "anthropic-sonnet", "gemini": "anthropic-sonnet",
                 "unified": "anthropic-sonnet"}
        config["aliases"] = {"*": other}
        for endpoint in config["endpoints"].values():      # Codex's OpenAI-only tools are dropped
            endpoint["unsupported_params"] = "drop"
    kind = {"claude": "claude_code", "codex": "codex", "gemini": "gemini_cli", "opencode": "opencode"}[args.agent]
    if args.refusal_status:
        config["agents"] = {"refusal_status": {kind: args.refusal_status}}
    home, workdir = args.work / "home", args.work / "ws"
    home.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.zero_config:
        settings = settings_from_env({
            "OPENAI_API_KEY": "sk-upstream-secret", "OPENAI_BASE_URL": fakes["openai"].base_url,
            "ANTHROPIC_API_KEY": "sk-ant-upstream", "ANTHROPIC_BASE_URL": fakes["anthropic"].base_url,
            "GEMINI_API_KEY": "gm-upstream", "GOOGLE_GEMINI_BASE_URL": fakes["gemini"].base_url,
            "RELAYGATE_API_KEYS": TEST_KEY, "RELAYGATE_LEDGER_PATH": str(args.work / "ledger.db")})
    else:
        settings = settings_for(config, ledger_path=str(args.work / "ledger.db"))
    async with run_gateway(settings) as gw:
        env, model = agent_environment(args.agent, gw.url, TEST_KEY, home, args.via, args.model)
        model = model or args.model
        if args.agent == "codex" and (args.websocket or args.compact_limit):
            codex_options(home / ".codex" / "config.toml", args.websocket, args.compact_limit)
        cmd = agent_command(args.agent, args.cache / PACKAGES[args.agent] / "node_modules" / ".bin", model)
        rc, out, err, elapsed = await run_agent(cmd, workdir, env, args.timeout)
        rows = await gw.ledger_rows()
        metrics = await gw.metrics()
    for fake in fakes.values():
        await fake.stop()
    result = {
        "agent": args.agent, "scenario": args.scenario, "rc": rc, "elapsed": round(elapsed, 1),
        "stdout": out.decode(errors="replace")[-6000:], "stderr": err.decode(errors="replace")[-4000:],
        "ledger": [{k: r[k] for k in ("agent", "session_id", "owner", "endpoint", "provider", "provider_model",
                                      "status", "total_tokens", "surface")} for r in rows],
        "upstream": {name: [r.path for r in f.requests] for name, f in fakes.items()},
        "surfaces": sorted({r["surface"] for r in rows}),
        # summarisation requests the gateway sent for /responses/compact (translated compaction)
        "compactions": sum(COMPACTION_PROMPT[:60] in json.dumps(r.body) for f in fakes.values() for r in f.requests),
        "websocket_upgrades": metric_value(metrics, "relaygate_requests_total", status="101"),
        "upstream_models": {name: [r.body.get("model") if isinstance(r.body, dict) else None for r in f.requests]
                            for name, f in fakes.items()},
        "upstream_tools": {name: [_tool_names(r.body) if isinstance(r.body, dict) else [] for r in f.requests]
                           for name, f in fakes.items()},
        "dropped": dropped_parameters(metrics),
        "agent_requests": metric_value(metrics, "relaygate_agent_requests_total", agent=kind),
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
