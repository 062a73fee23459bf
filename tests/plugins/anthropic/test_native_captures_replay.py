"""Every Anthropic and Gemini request the real clients sent (tests/fixtures/clients/captures) replayed
through the gateway.

The captured headers and bodies go in as they were (only the masked credential
is replaced by a real gateway key); each must reach the provider with the body
untouched but for the model, and come back in a valid native shape.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
from support.behavior import Behavior
from support.captures import CAPTURES
from support.fake_anthropic import FakeAnthropic
from support.fake_gemini import FakeGemini
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_anthropic, validate_anthropic_stream, validate_gemini, validate_gemini_sse

SKIPPED_HEADERS = {"host", "content-length", "connection", "authorization", "x-api-key", "x-goog-api-key"}


def captured(prefix: str) -> list[tuple[str, dict]]:
    out = []
    for path in sorted(CAPTURES.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec["method"] == "POST" and rec["path"].startswith(prefix) and isinstance(rec.get("body"), dict):
                out.append((f"{path.stem}#{rec['seq']}", rec))
    return out


ANTHROPIC = captured("/anthropic/")
GEMINI = captured("/gemini/")


def config(anthropic_url: str, gemini_url: str) -> dict:
    # Wildcard endpoints: whatever model a client names routes to the same model upstream.
    return {
        "providers": {"anthropic": {"type": "anthropic", "base_url": anthropic_url, "api_key": "sk-ant-up"},
                      "gemini": {"type": "gemini", "base_url": gemini_url, "api_key": "AIza-up"}},
        "endpoints": {"claude-*": {"task": "chat", "served_models": [
                          {"name": "claude", "provider": "anthropic", "model": "claude-*"}]},
                      "gemini-*": {"task": "any", "served_models": [
                          {"name": "gemini", "provider": "gemini", "model": "gemini-*"}]}},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "o"}],
    }


@pytest.fixture
async def gw(tmp_path):
    async with FakeAnthropic() as fa, FakeGemini() as fg:
        fa.always(Behavior(chunks=3))
        settings = settings_for(config(fa.base_url, fg.base_url), ledger_path=str(tmp_path / "l.db"))
        async with run_gateway(settings) as running:
            yield running, fa, fg


def replay_headers(rec: dict) -> dict[str, str]:
    headers = {k: v for k, v in rec["headers"] if k.lower() not in SKIPPED_HEADERS}
    headers["Authorization"] = f"Bearer {TEST_KEY}"
    return headers


async def replay(gw_url: str, rec: dict) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.post(
            gw_url + rec["path"], params=rec["query"], data=json.dumps(rec["body"]),
            headers=replay_headers(rec)) as r:
        return r.status, dict(r.headers), await r.read()


@pytest.mark.parametrize("rec", [r for _, r in ANTHROPIC], ids=[i for i, _ in ANTHROPIC])
async def test_captured_anthropic_request(gw, rec):
    running, fa, _ = gw
    status, headers, data = await replay(running.url, rec)
    assert status == 200, data[:500]
    upstream = fa.last
    assert upstream.body == rec["body"]                 # model names the same model upstream: untouched
    sent = {k.lower(): v for k, v in rec["headers"]}
    assert upstream.headers["anthropic-version"] == sent.get("anthropic-version", "2023-06-01")
    if "anthropic-beta" in sent:
        assert upstream.headers["anthropic-beta"] == sent["anthropic-beta"]
    if rec["path"].endswith("/count_tokens"):
        assert "input_tokens" in json.loads(data)
    elif rec["body"].get("stream"):
        assert headers["Content-Type"].startswith("text/event-stream")
        validate_anthropic_stream(data)
    else:
        validate_anthropic("Message", json.loads(data))


@pytest.mark.parametrize("rec", [r for _, r in GEMINI], ids=[i for i, _ in GEMINI])
async def test_captured_gemini_request(gw, rec):
    running, _, fg = gw
    status, _, data = await replay(running.url, rec)
    assert status == 200, data[:500]
    upstream = fg.last
    assert upstream.body == rec["body"]
    method = rec["path"].rpartition(":")[2]
    assert upstream.path.endswith(":" + method) and upstream.path.startswith("/v1beta/models/")
    if method == "streamGenerateContent":
        assert upstream.query == {"alt": "sse"}
        validate_gemini_sse(data)
    elif method == "generateContent":
        validate_gemini("GenerateContentResponse", json.loads(data))
    else:
        validate_gemini("CountTokensResponse", json.loads(data))


def test_the_captures_are_there():
    assert len(ANTHROPIC) >= 10 and len(GEMINI) >= 10
