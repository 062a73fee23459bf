"""The real coding-agent CLIs through the gateway (opt-in: RELAYGATE_AGENT_TESTS=1, marker ``agents``).

Each CLI is installed from npm into a cache dir (``RELAYGATE_AGENT_CACHE``, default
``~/.cache/relaygate/agents``; versions from tests/fixtures/clients/README.md), then run by
agent_e2e_runner.py inside ``unshare --net``: a network namespace with only loopback, where
the gateway and a rule-driven fake upstream run too, so the agents can reach nothing else.
The task needs a tool call (run ``echo hi``, then answer DONE). Telemetry and update checks
are off (the runner uses ``relaygate agent-env``'s set-up, which switches them off).
The zero-config cases run with no config file (``--zero-config``: ``settings_from_env``
with the fakes' base URLs): Codex on ``anthropic/...``, Gemini CLI on ``openai/...``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.agents,
    pytest.mark.skipif(os.environ.get("RELAYGATE_AGENT_TESTS") != "1",
                       reason="real agent CLIs: set RELAYGATE_AGENT_TESTS=1 (installs them from npm)"),
    pytest.mark.timeout(900),
]

PACKAGES = {"claude": "@anthropic-ai/claude-code@2.1.197", "codex": "@openai/codex@0.169.0",
            "gemini": "@google/gemini-cli@0.61.0", "opencode": "opencode-ai@1.18.33"}
KINDS = {"claude": "claude_code", "codex": "codex", "gemini": "gemini_cli", "opencode": "opencode"}
RUNNER = Path(__file__).with_name("agent_e2e_runner.py")
CACHE = Path(os.environ.get("RELAYGATE_AGENT_CACHE", Path.home() / ".cache" / "relaygate" / "agents"))


def install(agent: str) -> Path:
    """The CLI from npm, once per cache dir (outside the namespace: it needs the registry)."""
    folder = CACHE / agent
    exe = folder / "node_modules" / ".bin" / agent
    if not exe.exists():
        if shutil.which("npm") is None:
            pytest.fail("npm is needed to install the agent CLIs")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix",
                               str(folder), PACKAGES[agent]], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0 and exe.exists(), f"npm install {PACKAGES[agent]} failed:\n{done.stderr[-3000:]}"
    return exe


def isolate() -> list[str]:
    """The command prefix for a loopback-only network namespace."""
    prefix = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail(f"cannot create a network namespace ({' '.join(prefix)}): {probe.stderr.decode()[:300]}")
    return prefix


def run_agent(agent: str, tmp_path: Path, *extra: str) -> dict:
    install(agent)
    cmd = [*isolate(), sys.executable, str(RUNNER), agent, str(CACHE), str(tmp_path), "--timeout", "240", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=420)
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("RESULT ")), None)
    assert line, f"runner failed (rc {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    result = json.loads(line[len("RESULT "):])
    print(f"\n{agent} {extra or ''}: rc={result['rc']} elapsed={result['elapsed']}s "
          f"gateway requests={result['agent_requests']} ledger={result['ledger']}")
    return result


@pytest.mark.parametrize("cross", [False, True], ids=["native", "other-provider"])
@pytest.mark.parametrize("agent", sorted(PACKAGES))
def test_agent_completes_a_tool_turn_and_is_attributed(agent, cross, tmp_path):
    """native: each agent on its own provider; other-provider: the aliases send Claude Code and
    opencode to OpenAI, Codex and Gemini CLI to Anthropic (translated both ways)."""
    r = run_agent(agent, tmp_path, *(["--cross"] if cross else []))
    output = r["stdout"] + r["stderr"]
    assert r["rc"] == 0, output[-3000:]
    assert "DONE" in r["stdout"], output[-3000:]
    ledger = r["ledger"]
    assert len(ledger) >= 2, ledger                       # the tool call, then the answer after its result
    assert {row["agent"] for row in ledger} == {KINDS[agent]}
    assert {row["owner"] for row in ledger} == {"alice"}
    assert all(row["status"] == 200 for row in ledger)
    sessions = {row["session_id"] for row in ledger}
    assert len(sessions) == 1 and "" not in sessions, sessions
    assert sum(len(paths) for paths in r["upstream"].values()) == len(ledger)
    native = {"claude": "anthropic", "codex": "openai", "gemini": "gemini", "opencode": "anthropic"}[agent]
    used = {name for name, paths in r["upstream"].items() if paths}
    assert used == ({"openai"} if native == "anthropic" else {"anthropic"}) if cross else used == {native}, used
    if agent == "codex":
        events = [json.loads(ln) for ln in r["stdout"].splitlines() if ln.startswith("{")]
        runs = [e["item"] for e in events if e.get("type") == "item.completed"
                and e["item"].get("type") == "command_execution"]
        assert runs and runs[0]["exit_code"] == 0 and "hi" in runs[0]["aggregated_output"]
    if agent == "gemini":
        stats = json.loads(r["stdout"][r["stdout"].index("{"):])["stats"]["tools"]
        assert stats["totalSuccess"] >= 1
    if agent == "claude":
        assert json.loads(r["stdout"])["num_turns"] >= 2


@pytest.mark.parametrize("agent", sorted(PACKAGES))
def test_disabled_key_stops_the_agent_with_the_gateways_message(agent, tmp_path):
    r = run_agent(agent, tmp_path, "--scenario", "disabled")
    output = r["stdout"] + r["stderr"]
    assert r["rc"] is not None and r["rc"] != 0, "the agent must stop, not retry until killed"
    assert "has been disabled by an administrator" in output, output[-3000:]
    assert r["agent_requests"] <= 2, f"{r['agent_requests']} calls: the agent retried a permanent refusal"
    assert not any(r["upstream"].values()) and not r["ledger"]


#: (agent, the other provider's model it asks for, the fake that must serve it, what policy ``agents`` drops)
ZERO_CONFIG_CASES = [
    ("codex", "anthropic/claude-sonnet-4-6", "anthropic", {"tools.web_search"}),
    ("gemini", "openai/gpt-4o-mini", "openai", {"top_k"}),
]


@pytest.mark.parametrize(("agent", "model", "provider", "dropped"), ZERO_CONFIG_CASES,
                         ids=[f"{a}-on-{p}" for a, _, p, _ in ZERO_CONFIG_CASES])
def test_agent_on_another_providers_model_with_no_config_file(agent, model, provider, dropped, tmp_path):
    """Zero-config: the gateway's settings come from ``settings_from_env`` (the SDK variables pointing
    at the fakes, ``RELAYGATE_API_KEYS``), the agent's set-up from ``relaygate agent-env --model
    provider/model``; the wildcard endpoint serves it and policy ``agents`` drops what the other
    provider cannot express, so the tool-using turn completes."""
    r = run_agent(agent, tmp_path, "--zero-config", "--model", model)
    output = r["stdout"] + r["stderr"]
    assert r["rc"] == 0, output[-3000:]
    assert "DONE" in r["stdout"], output[-3000:]
    ledger = r["ledger"]
    assert len(ledger) >= 2, (ledger, output[-3000:])      # the tool call, then the answer after its result
    assert all(row["status"] == 200 for row in ledger), ledger
    assert {row["agent"] for row in ledger} == {KINDS[agent]}
    assert {row["owner"] for row in ledger} == {"default"}  # RELAYGATE_API_KEYS keys
    assert {row["endpoint"] for row in ledger} == {model}     # the wildcard endpoint "<provider>/*"
    assert {row["provider_model"] for row in ledger} == {model.split("/", 1)[1]}
    sessions = {row["session_id"] for row in ledger}
    assert len(sessions) == 1 and "" not in sessions, sessions
    used = {name for name, paths in r["upstream"].items() if paths}
    assert used == {provider}, r["upstream"]
    assert set(r["upstream_models"][provider]) == {model.split("/", 1)[1]}
    assert len(r["upstream"][provider]) == len(ledger)
    assert dropped <= set(r["dropped"]), r["dropped"]
    assert not any("web_search" in names for names in r["upstream_tools"][provider])
    if agent == "codex":
        events = [json.loads(ln) for ln in r["stdout"].splitlines() if ln.startswith("{")]
        runs = [e["item"] for e in events if e.get("type") == "item.completed"
                and e["item"].get("type") == "command_execution"]
        assert runs and runs[0]["exit_code"] == 0 and "hi" in runs[0]["aggregated_output"]
    if agent == "gemini":
        stats = json.loads(r["stdout"][r["stdout"].index("{"):])["stats"]["tools"]
        assert stats["totalSuccess"] >= 1


@pytest.mark.parametrize("compact", [False, True], ids=["turn", "compaction"])
def test_codex_over_the_responses_websocket_on_a_claude_model(compact, tmp_path):
    """Codex's WebSocket transport (``supports_websockets = true`` for the gateway provider) in
    zero-config on ``anthropic/claude-sonnet-4-6``: its warm-up (``generate: false``) is answered by
    the gateway, the tool call and the answer after its result are two turns on the socket (the
    second continues the first by ``previous_response_id``, ``store: false``). *compaction*: the
    first call reports twice ``model_auto_compact_token_limit`` of input, so Codex compacts (its own
    summarising request, over the socket) and continues in a new chain on a new socket."""
    extra = ["--compact-limit", "20000"] if compact else []
    r = run_agent("codex", tmp_path, "--zero-config", "--model", "anthropic/claude-sonnet-4-6", "--websocket",
                  *extra)
    output = r["stdout"] + r["stderr"]
    assert r["rc"] == 0 and "DONE" in r["stdout"], output[-3000:]
    assert r["websocket_upgrades"] >= (2 if compact else 1), r
    ledger = r["ledger"]
    assert len(ledger) == (3 if compact else 2), ledger      # no row for the warm-up
    assert all(row["status"] == 200 and row["surface"] == "openai" for row in ledger), ledger
    assert {row["provider"] for row in ledger} == {"anthropic"} and not r["upstream"]["openai"]
    events = [json.loads(ln) for ln in r["stdout"].splitlines() if ln.startswith("{")]
    runs = [e["item"] for e in events if e.get("type") == "item.completed"
            and e["item"].get("type") == "command_execution"]
    assert runs and runs[0]["exit_code"] == 0 and "hi" in runs[0]["aggregated_output"]
