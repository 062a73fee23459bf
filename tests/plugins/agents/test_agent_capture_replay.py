"""Every request the real coding agents sent (tests/fixtures/clients/captures) replayed through the gateway
to fake native upstreams: the reply must be what the agent's protocol accepts, the model name
the agent asked for is mapped by the aliases, and the ledger attributes each call to the agent
and its session."""

from __future__ import annotations

import aiohttp
import pytest
from agents_support import AGENT_CAPTURES, agent_config, behavior_for, check_reply, send
from support.captures import load_capture
from support.gateway import metric_value, run_gateway, settings_for

#: where each capture's calls must land upstream (provider fake, path fragment)
UPSTREAM = {"/anthropic/": ("anthropic", "/v1/messages"), "/openai/v1/responses": ("openai", "/responses"),
            "/mlflow/v1/chat/completions": ("openai", "/chat/completions"), "/gemini/": ("gemini", "/models/")}
EXPECTED_SESSIONS = {
    "claude-code": "a0b6c667-890e-4e72-932d-f03a9e6cf2b3",
    "codex": "01a20297-63c5-7e90-add4-5a05ffa3a805",
    "opencode-anthropic": "ses_dfd6879b3ffe2xlxl5o4qkZOdT",
}
ALIAS_TARGET = {"anthropic": "anthropic-sonnet", "openai": "openai-gpt", "gemini": "gemini-flash"}


@pytest.fixture
async def gw(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    config = agent_config({"openai": fake_openai.base_url, "anthropic": fake_anthropic.base_url,
                           "gemini": fake_gemini.base_url})
    async with run_gateway(settings_for(config, ledger_path=str(tmp_path / "ledger.db"))) as running:
        yield running


@pytest.mark.parametrize("capture", sorted(AGENT_CAPTURES))
async def test_captured_agent_traffic_replays(capture, gw, fake_openai, fake_anthropic, fake_gemini):
    fakes = {"openai": fake_openai, "anthropic": fake_anthropic, "gemini": fake_gemini}
    entries = load_capture(capture)
    posts, endpoints = 0, []
    async with aiohttp.ClientSession() as session:
        for entry in entries:
            target = None
            if entry["method"] == "POST":
                posts += 1
                prefix = next(p for p in UPSTREAM if entry["path"].startswith(p))
                target = fakes[UPSTREAM[prefix][0]]
                endpoints.append(ALIAS_TARGET[UPSTREAM[prefix][0]])
                target.script(behavior_for(entry))
            before = len(target.requests) if target else 0
            status, headers, body = await send(session, gw.url, entry)
            check_reply(entry, status, headers, body)
            if target is None:
                continue
            assert len(target.requests) == before + 1, "exactly one upstream call per agent call"
            upstream = target.requests[-1]
            assert UPSTREAM[next(p for p in UPSTREAM if entry["path"].startswith(p))][1] in upstream.path
            # our key never reaches the provider; the provider's own key does
            assert all("rg-test-key" not in v for v in upstream.headers.values())
            if entry["path"].startswith("/anthropic/"):
                assert upstream.headers.get("anthropic-beta") == {
                    k.lower(): v for k, v in entry["headers"]}.get("anthropic-beta")
    rows = list(await gw.ledger_rows())
    assert len(rows) == posts
    want_agent = AGENT_CAPTURES[capture]
    assert {r["agent"] for r in rows} == {want_agent}
    assert {r["owner"] for r in rows} == {"alice"}
    assert all(r["status"] == 200 and r["total_tokens"] > 0 for r in rows)
    sessions = {r["session_id"] for r in rows}
    assert len(sessions) == 1 and "" not in sessions, sessions
    if capture in EXPECTED_SESSIONS:
        assert sessions == {EXPECTED_SESSIONS[capture]}
    if capture == "gemini-cli":
        assert next(iter(sessions)).startswith("gcli-")       # derived: Gemini CLI sends no session id
    # every model name the agent asked for went through an alias to the administrator's endpoint
    assert sorted(r["endpoint"] for r in rows) == sorted(endpoints)
    metrics = await gw.metrics()
    assert metric_value(metrics, "relaygate_agent_requests_total", agent=want_agent) >= posts
