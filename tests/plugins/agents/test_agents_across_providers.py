"""Coding agents on another provider's model with no config file (zero-config, wildcard endpoints).

The captured requests of the real CLIs, with the model switched to another provider's:
Codex on Claude or Gemini (its OpenAI-only ``web_search``/``tool_search`` tools and
``text.verbosity``), Gemini CLI on GPT (``topK``), Claude Code on GPT or Gemini, opencode's
OpenAI flavour on Claude. Policy ``agents`` (zero-config's default): a coding agent gets
hosted tools and sampling knobs dropped, named in ``x-relaygate-dropped``; any other client
sending the same body gets a 400 naming the parameter.
"""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest
from agents_support import behavior_for, check_reply, send
from proxy.config import ConfigError
from proxy.zeroconf import settings_from_env
from support.captures import load_capture
from support.gateway import TEST_KEY, metric_value, run_gateway

#: (capture, the other provider's model, what must be dropped on its calls)
CASES = [
    ("codex", "anthropic/claude-sonnet-4-6", {"tools.web_search", "tools.tool_search", "verbosity"}),
    ("codex", "gemini/gemini-2.5-flash", {"tools.web_search", "tools.tool_search", "verbosity"}),
    ("gemini-cli", "openai/gpt-4o-mini", {"top_k"}),
    ("gemini-cli", "anthropic/claude-sonnet-4-6", set()),
    ("claude-code", "openai/gpt-5.5", set()),
    ("claude-code", "gemini/gemini-2.5-flash", set()),
    ("opencode-openai", "anthropic/claude-sonnet-4-6", {"verbosity"}),
]


def zero_config_env(fakes: dict[str, Any], tmp_path, **extra: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-up", "OPENAI_BASE_URL": fakes["openai"].base_url,
            "ANTHROPIC_API_KEY": "sk-ant-up", "ANTHROPIC_BASE_URL": fakes["anthropic"].base_url,
            "GEMINI_API_KEY": "gm-up", "GOOGLE_GEMINI_BASE_URL": fakes["gemini"].base_url,
            "RELAYGATE_API_KEYS": TEST_KEY, "RELAYGATE_LEDGER_PATH": str(tmp_path / "ledger.db"), **extra}


def on_model(entry: dict[str, Any], model: str) -> dict[str, Any]:
    """The captured request, asking for *model* (in the body, or in Gemini's path)."""
    entry = copy.deepcopy(entry)
    if isinstance(entry.get("body"), dict) and "model" in entry["body"]:
        entry["body"]["model"] = model
    elif "/models/" in entry["path"]:
        head, _, tail = entry["path"].partition("/models/")
        entry["path"] = f"{head}/models/{model}:{tail.rpartition(':')[2]}"
    return entry


@pytest.fixture
def fakes(fake_openai, fake_anthropic, fake_gemini) -> dict[str, Any]:
    return {"openai": fake_openai, "anthropic": fake_anthropic, "gemini": fake_gemini}


@pytest.mark.parametrize(("capture", "model", "dropped"), CASES, ids=[f"{c}-on-{m.split('/')[0]}" for c, m, _ in CASES])
async def test_agent_on_another_providers_model_works_and_says_what_was_dropped(
        capture, model, dropped, fakes, tmp_path) -> None:
    posts = [on_model(e, model) for e in load_capture(capture) if e["method"] == "POST"]
    target = fakes[model.split("/")[0]]
    seen: dict[str, int] = {}
    async with run_gateway(settings_from_env(zero_config_env(fakes, tmp_path))) as gw, \
            aiohttp.ClientSession() as http:
        for entry in posts:
            target.script(behavior_for(entry))
            status, headers, body = await send(http, gw.url, entry)
            check_reply(entry, status, headers, body)          # 200, in the agent's own protocol
            named = set(filter(None, headers.get("x-relaygate-dropped", "").split(",")))
            assert named <= dropped, (entry["path"], named)       # opencode's title call sends no verbosity
            for param in named:
                seen[param] = seen.get(param, 0) + 1
            upstream = target.requests[-1]
            assert upstream.path.find(model.split("/", 1)[1]) >= 0 or \
                upstream.body.get("model") == model.split("/", 1)[1]
        metrics = await gw.metrics()
    assert set(seen) == dropped
    for param, calls in seen.items():
        assert metric_value(metrics, "relaygate_dropped_parameters_total", endpoint=model.split("/")[0] + "/*",
                            parameter=param) == calls


async def codex_call(gw_url: str, user_agent: str, policy_env: dict[str, str], fakes, tmp_path) -> tuple:
    entry = on_model(next(e for e in load_capture("codex") if e["method"] == "POST"), "anthropic/claude-sonnet-4-6")
    if user_agent != "codex":        # the same body from a plain SDK client: no agent headers at all
        entry["headers"] = [[k, v] for k, v in entry["headers"]
                            if k.lower() in ("content-type", "authorization", "accept")] + \
                           [["User-Agent", user_agent]]
    async with run_gateway(settings_from_env(zero_config_env(fakes, tmp_path, **policy_env))) as gw, \
            aiohttp.ClientSession() as http:
        fakes["anthropic"].script(behavior_for(entry))
        return await send(http, gw.url, entry)


async def test_other_clients_learn_the_parameter_instead_of_losing_it(fakes, tmp_path) -> None:
    status, _, body = await codex_call("", "OpenAI/Python 3.54.0", {}, fakes, tmp_path)
    assert status == 400, body
    assert b"tools.tool_search" in body and b"only for coding agents" in body


@pytest.mark.parametrize(("policy", "client", "want"), [
    ("reject", "codex", 400), ("drop", "OpenAI/Python 3.54.0", 200), ("agents", "codex", 200)])
async def test_relaygate_unsupported_params_sets_the_policy(policy, client, want, fakes, tmp_path) -> None:
    status, headers, body = await codex_call("", client, {"RELAYGATE_UNSUPPORTED_PARAMS": policy}, fakes, tmp_path)
    assert status == want, body[:300]
    if want == 200:
        assert "tools.web_search" in headers["x-relaygate-dropped"]


def test_a_wrong_policy_value_is_named() -> None:
    with pytest.raises(ConfigError, match="RELAYGATE_UNSUPPORTED_PARAMS"):
        settings_from_env({"OPENAI_API_KEY": "k", "RELAYGATE_UNSUPPORTED_PARAMS": "ignore"})
    assert settings_from_env({"OPENAI_API_KEY": "k"}).endpoints["openai/*"].unsupported_params == "agents"
