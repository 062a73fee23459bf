"""Agent governance through a running gateway: aliases (exact, wildcard, per surface, unknown
names in each agent's error shape), the anthropic-beta policy, the per-key kill switch,
session and developer caps, the statuses agents stop on, attribution and usage reports."""

from __future__ import annotations

import json

import aiohttp
import pytest
from agents_support import agent_config
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_anthropic, validate_openai

from plugins.reports.usage import ReportQuery, usage_report
from proxy.config import ConfigError

CLAUDE_BETAS = "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14"
CLAUDE = {"User-Agent": "claude-cli/2.1.197 (external, sdk-cli)", "x-app": "cli", "anthropic-version": "2023-06-01",
          "anthropic-beta": CLAUDE_BETAS, "X-Claude-Code-Session-Id": "sess-claude-1"}
CODEX = {"originator": "codex_exec", "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb",
         "session-id": "sess-codex-1", "thread-id": "sess-codex-1"}
GEMINI = {"User-Agent": "GeminiCLI-tui/0.61.0/gemini-3.8-flash (linux; x64; terminal)",
          "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2"}
OPENCODE = {"User-Agent": "opencode/1.18.33 ai-sdk/provider-utils/4.0.46 runtime/bun/1.3.14",
            "x-session-id": "ses_opencode1", "anthropic-version": "2023-06-01"}
SDK = {"User-Agent": "Anthropic/Python 2.12.0", "x-stainless-lang": "python", "anthropic-version": "2026-10-21"}

MESSAGES = {"model": "claude-opus-4-8", "max_tokens": 100, "stream": False,
            "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "gpt-5.5", "input": "hi", "store": False}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture
def fakes(fake_openai, fake_anthropic, fake_gemini):
    return {"openai": fake_openai.base_url, "anthropic": fake_anthropic.base_url, "gemini": fake_gemini.base_url}


@pytest.fixture
def start(tmp_path):
    def make(config):
        return run_gateway(settings_for(config, ledger_path=str(tmp_path / "ledger.db")))
    return make


async def call(gw, path: str, body: dict, headers: dict, key: str = TEST_KEY) -> tuple[int, dict, dict]:
    auth = {"x-goog-api-key": key} if path.startswith("/gemini") else {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body, headers={**headers, **auth}) as r:
        raw = await r.read()
        return r.status, dict(r.headers), json.loads(raw) if raw else {}


def claude(model: str = "claude-opus-4-8", **kw) -> dict:
    return {**MESSAGES, "model": model, **kw}


# -- aliases ---------------------------------------------------------------------------

async def test_exact_endpoint_wins_over_wildcard_alias(start, fakes, fake_anthropic, fake_openai):
    config = agent_config(fakes)
    config["aliases"] = {"claude-opus-4-8": "openai-gpt", "*": "gemini-flash"}
    async with start(config) as gw:
        # an exact alias beats the "*" pattern; an endpoint name beats every alias
        status, _, body = await call(gw, "/openai/v1/responses", {**RESPONSES, "model": "openai-gpt"}, CODEX)
        assert status == 200, body
        status, _, body = await call(gw, "/anthropic/v1/messages", claude("anthropic-sonnet"), CLAUDE)
        assert status == 200 and fake_anthropic.last.body["model"] == "claude-sonnet-4-6"
        rows = await gw.ledger_rows()
    assert [r["endpoint"] for r in rows] == ["openai-gpt", "anthropic-sonnet"]


async def test_wildcard_and_per_surface_aliases(start, fakes, fake_anthropic, fake_openai, fake_gemini):
    config = agent_config(fakes)
    config["aliases"] = {"claude-haiku-*": "anthropic-sonnet",
                         "gpt-*": {"openai": "openai-gpt", "*": "anthropic-sonnet"},
                         "gemini-*": "gemini-flash"}
    async with start(config) as gw:
        assert (await call(gw, "/anthropic/v1/messages", claude("claude-haiku-4-5"), CLAUDE))[0] == 200
        assert (await call(gw, "/openai/v1/responses", RESPONSES, CODEX))[0] == 200
        path = "/gemini/v1beta/models/gemini-3.8-flash:generateContent"
        assert (await call(gw, path, GEMINI_BODY, GEMINI))[0] == 200
        rows = await gw.ledger_rows()
    assert [(r["endpoint"], r["provider_model"]) for r in rows] == [
        ("anthropic-sonnet", "claude-sonnet-4-6"), ("openai-gpt", "gpt-5.5"), ("gemini-flash", "gemini-2.5-flash")]
    assert fake_gemini.last.path.endswith("/models/gemini-2.5-flash:generateContent")


async def test_unknown_model_is_404_in_each_agents_shape(start, fakes, fake_anthropic, fake_openai, fake_gemini):
    config = agent_config(fakes)
    config["aliases"] = {}
    async with start(config) as gw:
        status, _, body = await call(gw, "/anthropic/v1/messages", claude("claude-opus-4-8"), CLAUDE)
        assert status == 404
        validate_anthropic("ErrorResponse", body)
        assert body["error"]["type"] == "not_found_error"
        message = body["error"]["message"]
        status, _, body = await call(gw, "/openai/v1/responses", RESPONSES, CODEX)
        assert status == 404 and body["error"]["type"] == "not_found_error"
        assert "'gpt-5.5'" in body["error"]["message"] and "aliases" in body["error"]["message"]
        validate_openai("ErrorResponse", body)
        status, _, body = await call(gw, "/gemini/v1beta/models/gemini-3.8-flash:generateContent",
                                     GEMINI_BODY, GEMINI)
        assert status == 404 and body["error"]["status"] == "NOT_FOUND" and body["error"]["code"] == 404
    assert "'claude-opus-4-8'" in message and "aliases" in message and "claude-*" in message
    assert "anthropic-sonnet" in message          # lists the endpoints that exist
    assert not fake_anthropic.requests and not fake_openai.requests and not fake_gemini.requests


def test_alias_to_a_missing_endpoint_is_a_config_error(fakes, tmp_path):
    config = agent_config(fakes)
    config["aliases"] = {"claude-*": {"anthropic": "no-such-endpoint"}}
    with pytest.raises(ConfigError, match="aliases.claude-\\*: anthropic: endpoint 'no-such-endpoint'"):
        settings_for(config, ledger_path=str(tmp_path / "l.db"))


# -- anthropic-beta policy -----------------------------------------------------------

async def test_beta_policy_strips_and_rejects(start, fakes, fake_anthropic):
    config = agent_config(fakes)
    config["providers"]["anthropic"]["options"] = {
        "anthropic_beta": {"strip": ["context-1m-*"], "reject": ["mid-conversation-system-*"]}}
    async with start(config) as gw:
        status, _, _ = await call(gw, "/anthropic/v1/messages", claude(), CLAUDE)
        assert status == 200
        assert fake_anthropic.last.headers["anthropic-beta"] == \
            "claude-code-20250219,interleaved-thinking-2025-05-14"
        headers = {**CLAUDE, "anthropic-beta": CLAUDE_BETAS + ",mid-conversation-system-2026-04-07"}
        status, _, body = await call(gw, "/anthropic/v1/messages", claude(), headers)
        assert status == 400
        validate_anthropic("ErrorResponse", body)
        assert "'mid-conversation-system-2026-04-07'" in body["error"]["message"]
        assert len(fake_anthropic.requests) == 1
        # with only stripped betas the header is left out entirely
        await call(gw, "/anthropic/v1/messages", claude(), {**CLAUDE, "anthropic-beta": "context-1m-2025-08-07"})
        assert "anthropic-beta" not in fake_anthropic.last.headers


def test_bad_beta_policy_names_the_field(fakes, tmp_path):
    from proxy.app import make_app
    config = agent_config(fakes)
    config["providers"]["anthropic"]["options"] = {"anthropic_beta": {"strip": "x", "drop": ["y"]}}
    with pytest.raises(ValueError, match="providers.anthropic.options.anthropic_beta"):
        make_app(settings_for(config, ledger_path=str(tmp_path / "l.db")))


# -- kill switch and refusals agents stop on ------------------------------------------------

@pytest.mark.parametrize("path,body,headers,shape", [
    ("/anthropic/v1/messages", MESSAGES, CLAUDE, "anthropic"),
    ("/openai/v1/responses", RESPONSES, CODEX, "openai"),          # Codex: 400 (it retries a 403)
    ("/gemini/v1beta/models/gemini-3.8-flash:generateContent", GEMINI_BODY, GEMINI, "gemini"),
    ("/anthropic/v1/messages", MESSAGES, OPENCODE, "anthropic"),
])
async def test_disabled_key_is_a_permanent_refusal_for_agents(start, fakes, path, body, headers, shape,
                                                               fake_anthropic, fake_openai, fake_gemini):
    config = agent_config(fakes, keys=[{"name": "bob-laptop", "key": TEST_KEY, "owner": "bob", "disabled": True}])
    async with start(config) as gw:
        status, resp_headers, err = await call(gw, path, body, headers)
    assert status == (400 if headers is CODEX else 403), err
    assert "Retry-After" not in resp_headers
    assert "'bob-laptop' has been disabled" in err["error"]["message"] and TEST_KEY not in json.dumps(err)
    if shape == "anthropic":
        validate_anthropic("ErrorResponse", err)
        assert err["error"]["type"] == "permission_error"
    elif shape == "openai":
        validate_openai("ErrorResponse", err)
    else:
        assert err["error"]["status"] == "PERMISSION_DENIED" and err["error"]["code"] == 403
    assert not fake_anthropic.requests and not fake_openai.requests and not fake_gemini.requests


async def test_sdk_clients_keep_the_plain_401(start, fakes):
    config = agent_config(fakes, keys=[{"name": "bob-laptop", "key": TEST_KEY, "owner": "bob", "disabled": True}])
    async with start(config) as gw:
        status, _, err = await call(gw, "/anthropic/v1/messages", MESSAGES, SDK)
        assert status == 401 and "disabled" in err["error"]["message"]
        # a wrong key from Claude Code is not retried for minutes either: 403, not 401
        status, _, err = await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE, key="rg-wrong")
        assert status == 403 and "valid gateway key" in err["error"]["message"]


async def test_refusal_status_is_configurable_per_agent(start, fakes):
    config = agent_config(fakes, keys=[{"name": "k", "key": TEST_KEY, "owner": "bob", "disabled": True}],
                          agents={"refusal_status": {"claude_code": 400, "codex": 403}})
    async with start(config) as gw:
        assert (await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE))[0] == 400
        assert (await call(gw, "/openai/v1/responses", RESPONSES, CODEX))[0] == 403
        assert (await call(gw, "/anthropic/v1/messages", MESSAGES, OPENCODE))[0] == 403


async def test_short_rate_limit_stays_429_with_retry_after(start, fakes):
    config = agent_config(fakes, limits={"rules": [{"scope": "key", "requests_per_minute": 1}]})
    async with start(config) as gw:
        assert (await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE))[0] == 200
        status, headers, err = await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE)
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
    assert err["error"]["type"] == "rate_limit_error"


# -- session and developer caps ------------------------------------------------------

async def test_runaway_session_is_stopped_with_a_clear_message(start, fakes, fake_anthropic):
    fake_anthropic.always(Behavior(usage=Usage(input_tokens=15, output_tokens=10)))
    config = agent_config(fakes, agents={"limits": [{"scope": "session", "agent": "claude_code", "max_tokens": 60}]})
    async with start(config) as gw:
        statuses = [(await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]                  # 25, 50, 75 tokens: the third crossed the cap
        status, headers, err = await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE)
        assert status == 403 and "Retry-After" not in headers
        validate_anthropic("ErrorResponse", err)
        assert "stopped this claude_code session (sess-claude-1)" in err["error"]["message"]
        assert "75 tokens, over the limit of 60 tokens" in err["error"]["message"]
        assert "Start a new session" in err["error"]["message"]
        # another session of the same developer, and other agents, go on
        other = {**CLAUDE, "X-Claude-Code-Session-Id": "sess-claude-2"}
        assert (await call(gw, "/anthropic/v1/messages", MESSAGES, other))[0] == 200
        assert (await call(gw, "/anthropic/v1/messages", MESSAGES, OPENCODE))[0] == 200
    assert len(fake_anthropic.requests) == 5


async def test_developer_daily_spend_cap(start, fakes, fake_openai):
    fake_openai.always(Behavior(usage=Usage(input_tokens=500_000, output_tokens=250_000)))    # $1.00 a call
    config = agent_config(fakes, agents={"limits": [{"scope": "owner", "match": "alice", "max_usd": 1.5}]})
    async with start(config) as gw:
        assert (await call(gw, "/openai/v1/responses", RESPONSES, CODEX))[0] == 200
        assert (await call(gw, "/openai/v1/responses", RESPONSES, {**CODEX, "session-id": "s2"}))[0] == 200
        status, _, err = await call(gw, "/openai/v1/responses", RESPONSES, {**CODEX, "session-id": "s3"})
        assert status == 400
        validate_openai("ErrorResponse", err)
        assert "developer 'alice' has used $2.00, over the limit of $1.50 per day" in err["error"]["message"]
        # an SDK sees the same cap as a 429 with Retry-After until midnight UTC
        status, headers, _ = await call(gw, "/openai/v1/responses", RESPONSES, {"User-Agent": "OpenAI/Python 3.54.0"})
        assert status == 429 and int(headers["Retry-After"]) > 0


# -- attribution ---------------------------------------------------------------------------

async def test_attribution_columns_and_usage_report(start, fakes, fake_anthropic, fake_openai, fake_gemini):
    async with start(agent_config(fakes)) as gw:
        await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE)
        await call(gw, "/anthropic/v1/messages", MESSAGES, CLAUDE)
        body = {**MESSAGES, "metadata": {"user_id": json.dumps({"device_id": "d", "account_uuid": "",
                                                               "session_id": "from-metadata"})}}
        await call(gw, "/anthropic/v1/messages", body, {k: v for k, v in CLAUDE.items() if "Session" not in k})
        await call(gw, "/openai/v1/responses", RESPONSES, CODEX)
        await call(gw, "/anthropic/v1/messages", MESSAGES, SDK)
        rows = await gw.ledger_rows()
        report = await usage_report(gw.gateway.settings, ReportQuery.parse("agent,session_id", None, None))
    assert [(r["agent"], r["session_id"]) for r in rows] == [
        ("claude_code", "sess-claude-1"), ("claude_code", "sess-claude-1"), ("claude_code", "from-metadata"),
        ("codex", "sess-codex-1"), ("sdk", "")]
    grouped = {(r["agent"], r["session_id"]): r["requests"] for r in report}
    assert grouped == {("claude_code", "sess-claude-1"): 2, ("claude_code", "from-metadata"): 1,
                       ("codex", "sess-codex-1"): 1, ("sdk", ""): 1}
