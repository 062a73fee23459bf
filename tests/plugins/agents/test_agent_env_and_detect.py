"""``relaygate agent-env``: copy-paste output that parses; agent and session detection."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib

import pytest

from plugins.anthropic import betas
from plugins.agents.detect import agent_kind, session_id
from proxy.cli import main

URL, KEY = "http://gw.example:8080", "rg-abc'def"


def run(capsys, *args: str) -> str:
    assert main(["agent-env", *args, "--url", URL + "/", "--key", KEY]) == 0
    return capsys.readouterr().out


def exports(text: str) -> dict[str, str]:
    """What a POSIX shell would set from the ``export`` lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            out[name] = shlex.split(value)[0]
    return out


def heredoc(text: str) -> str:
    m = re.search(r"<<'RELAYGATE_EOF'\n(.*?)\nRELAYGATE_EOF\n", text, re.S)
    assert m, text
    return m.group(1)


def test_claude(capsys):
    env = exports(run(capsys, "claude", "--model", "claude-sonnet-4-6"))
    assert env["ANTHROPIC_BASE_URL"] == URL + "/anthropic"
    assert env["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert env["ANTHROPIC_MODEL"] == "claude-sonnet-4-6"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == env["DISABLE_TELEMETRY"] == "1"


def test_codex(capsys):
    out = run(capsys, "codex")
    config = tomllib.loads(heredoc(out))
    assert config["model_provider"] == "relaygate" and config["model"] == "gpt-5.5"
    provider = config["model_providers"]["relaygate"]
    assert provider == {"name": "Relaygate", "base_url": URL + "/openai/v1", "env_key": "RELAYGATE_API_KEY",
                        "wire_api": "responses"}
    assert config["analytics"]["enabled"] is False and config["check_for_update_on_startup"] is False
    assert exports(out)["RELAYGATE_API_KEY"] == KEY
    assert tomllib.loads(run(capsys, "codex", "--part", "config")) == config


def test_gemini(capsys):
    out = run(capsys, "gemini")
    settings = json.loads(heredoc(out))
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["telemetry"]["enabled"] is False and settings["privacy"]["usageStatisticsEnabled"] is False
    env = exports(out)
    assert env == {"GOOGLE_GEMINI_BASE_URL": URL + "/gemini", "GEMINI_API_KEY": KEY,
                   "GEMINI_API_KEY_AUTH_MECHANISM": "bearer"}


@pytest.mark.parametrize("via,npm,path", [("anthropic", "@ai-sdk/anthropic", "/anthropic/v1"),
                                          ("openai", "@ai-sdk/openai", "/openai/v1"),
                                          ("google", "@ai-sdk/google", "/gemini/v1beta"),
                                          ("openai-compatible", "@ai-sdk/openai-compatible", "/mlflow/v1")])
def test_opencode(capsys, via, npm, path):
    env = exports(run(capsys, "opencode", "--via", via))
    config = json.loads(env["OPENCODE_CONFIG_CONTENT"])
    provider = config["provider"]["relaygate"]
    assert provider["npm"] == npm and provider["options"] == {"baseURL": URL + path, "apiKey": KEY}
    assert config["model"] == "relaygate/" + next(iter(provider["models"]))
    assert env["OPENCODE_DISABLE_MODELS_FETCH"] == "1"


def test_output_is_a_shell_script(tmp_path):
    """The whole output runs in sh and writes the config where the agent reads it."""
    out = subprocess.run([sys.executable, "-m", "proxy", "agent-env", "codex", "--key", "rg-k"],
                         capture_output=True, text=True, check=True).stdout
    home = tmp_path / "home"
    done = subprocess.run(["sh", "-c", out + '\necho "$RELAYGATE_API_KEY"'], env={"HOME": str(home)},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "rg-k"
    assert tomllib.loads((home / ".codex" / "config.toml").read_text())["model_provider"] == "relaygate"


# -- detection --------------------------------------------------------------------------

@pytest.mark.parametrize("headers,kind", [
    ({"User-Agent": "claude-cli/2.1.197 (external, sdk-cli)"}, "claude_code"),
    ({"User-Agent": "Bun/1.4.0", "x-app": "cli"}, "claude_code"),
    ({"originator": "codex_exec", "User-Agent": "x"}, "codex"),
    ({"User-Agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64)"}, "codex"),
    ({"User-Agent": "GeminiCLI-tui/0.61.0/gemini-3.8-flash (linux; x64; terminal)"}, "gemini_cli"),
    ({"User-Agent": "opencode/1.18.33 ai-sdk/provider-utils/4.0.46"}, "opencode"),
    ({"User-Agent": "OpenAI/Python 3.54.0"}, "sdk"),
    ({"User-Agent": "google-genai-sdk/3.4.0 gl-python/3.11.7"}, "sdk"),
    ({"User-Agent": "curl/8.5.0"}, "other"),
    ({}, "other"),
])
def test_agent_kind(headers, kind):
    assert agent_kind(headers) == kind


def test_session_ids():
    meta = {"metadata": {"user_id": json.dumps({"device_id": "d", "session_id": "abc-1"})}}
    assert session_id("claude_code", {}, meta) == "abc-1"
    assert session_id("claude_code", {}, {"metadata": {"user_id": "user_x_account_y_session_s-9"}}) == "s-9"
    assert session_id("claude_code", {"X-Claude-Code-Session-Id": "h-1"}, meta) == "h-1"
    assert session_id("codex", {"thread-id": "t-1"}, None) == "t-1"
    assert session_id("codex", {"x-codex-turn-metadata": '{"session_id": "m-1"}'}, None) == "m-1"
    assert session_id("opencode", {"x-session-id": "ses_1\n<script>"}, None) == "ses_1script"
    assert len(session_id("opencode", {"x-session-id": "a" * 1000}, None)) == 128
    first = {"contents": [{"role": "user", "parts": [{"text": "<session_context>"}, {"text": "do it"}]}]}
    later = {"contents": [*first["contents"], {"role": "model", "parts": [{"text": "ok"}]},
                          {"role": "user", "parts": [{"text": "more"}]}]}
    router = {"contents": [{"role": "user", "parts": [{"text": "<session_context>"}]},
                           {"role": "user", "parts": [{"text": "do it"}]}]}
    sid = session_id("gemini_cli", {}, first, "key-1")
    assert sid.startswith("gcli-") and sid == session_id("gemini_cli", {}, later, "key-1") \
        == session_id("gemini_cli", {}, router, "key-1")
    assert sid != session_id("gemini_cli", {}, first, "key-2")
    assert session_id("sdk", {}, None) == ""


def test_beta_helpers():
    policy = betas.policy_of({"anthropic_beta": {"strip": ["a-*"], "reject": "bad"}}, "p")
    assert betas.outgoing_betas(policy, ["a-1,keep", " x "]) == "keep,x"
    assert betas.outgoing_betas(policy, "a-1") is None
    assert betas.rejected_beta(policy, "keep,bad") == "bad"
    assert betas.outgoing_betas(betas.policy_of({}, "p"), "a-1,b") == "a-1,b"
