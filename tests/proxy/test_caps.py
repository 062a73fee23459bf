"""Per-endpoint caps, checked before the provider: choices, output tokens, embedding inputs (400 naming the
field, in the client's shape); and a 429 that says the quota is gone is not retried on the same provider."""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio
from support.behavior import Behavior
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, run_gateway, settings_for

from proxy.config import ConfigError, parse_settings

CAPS = {"max_n": 2, "max_output_tokens": 100, "max_embedding_inputs": 3}
HEADERS = {"Authorization": f"Bearer {TEST_KEY}", "x-api-key": TEST_KEY, "x-goog-api-key": TEST_KEY}
MESSAGES = [{"role": "user", "content": "hi"}]
CONTENTS = [{"role": "user", "parts": [{"text": "hi"}]}]


def caps_config(openai_url: str, anthropic_url: str, gemini_url: str) -> dict:
    def ep(task: str, provider: str, model: str, caps: dict | None = CAPS) -> dict:
        out = {"task": task, "served_models": [{"name": "m", "provider": provider, "model": model}]}
        return {**out, "caps": caps} if caps is not None else out
    return {
        "providers": {"o": {"type": "openai", "base_url": openai_url, "api_key": "sk-1"},
                      "a": {"type": "anthropic", "base_url": anthropic_url, "api_key": "ak-1"},
                      "g": {"type": "gemini", "base_url": gemini_url, "api_key": "gk-1"}},
        "endpoints": {"chat": ep("chat", "o", "gpt-4o-mini"), "complete": ep("completions", "o", "instruct"),
                      "embed": ep("embeddings", "o", "te3"), "claude": ep("chat", "a", "claude-x"),
                      "flash": ep("chat", "g", "gemini-2.5-flash"), "gembed": ep("embeddings", "g", "gem-embed"),
                      "plain": ep("chat", "o", "gpt-4o-mini", caps=None)},
        "keys": [{"name": "k", "key": TEST_KEY}],
    }


@pytest_asyncio.fixture
async def gw(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    cfg = caps_config(fake_openai.base_url, fake_anthropic.base_url, fake_gemini.base_url)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as running:
        yield running


async def post(gw, path: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body, headers=HEADERS) as r:
        return r.status, await r.json(content_type=None)


def named_field(status: int, body: dict) -> str:
    """The field a 400 names, from whichever client shape it came in."""
    assert status == 400, body
    err = body["error"]
    return err.get("param") or err["message"].split("'")[1]


GEN = "/gemini/v1beta/models/flash:generateContent"
REFUSED = [
    ("/v1/chat/completions", {"model": "chat", "messages": MESSAGES, "n": 3}, "n"),
    ("/v1/chat/completions", {"model": "chat", "messages": MESSAGES, "max_tokens": 101}, "max_tokens"),
    ("/v1/chat/completions", {"model": "chat", "messages": MESSAGES, "max_completion_tokens": 10**9},
     "max_completion_tokens"),
    ("/openai/v1/chat/completions", {"model": "chat", "messages": MESSAGES, "n": 3}, "n"),
    ("/openai/v1/responses", {"model": "chat", "input": "hi", "max_output_tokens": 101}, "max_output_tokens"),
    ("/v1/completions", {"model": "complete", "prompt": "hi", "n": 3}, "n"),
    ("/v1/completions", {"model": "complete", "prompt": "hi", "best_of": 3}, "best_of"),
    ("/v1/embeddings", {"model": "embed", "input": ["a", "b", "c", "d"]}, "input"),
    ("/v1/embeddings", {"model": "embed", "input": [[1, 2], [3], [4], [5]]}, "input"),
    ("/anthropic/v1/messages", {"model": "claude", "messages": MESSAGES, "max_tokens": 101}, "max_tokens"),
    (GEN, {"contents": CONTENTS, "generationConfig": {"candidateCount": 3}}, "generationConfig.candidateCount"),
    (GEN, {"contents": CONTENTS, "generationConfig": {"maxOutputTokens": 101}}, "generationConfig.maxOutputTokens"),
    (GEN, {"contents": CONTENTS, "generation_config": {"max_output_tokens": "101"}},   # proto JSON: both spellings
     "generation_config.max_output_tokens"),
    (GEN, {"contents": CONTENTS, "generationConfig": {"candidate_count": 2.5}}, "generationConfig.candidate_count"),
    ("/gemini/v1beta/models/gembed:batchEmbedContents",
     {"requests": [{"content": {"parts": [{"text": str(i)}]}} for i in range(4)]}, "requests"),
    ("/v1/chat/completions", {"model": "plain", "messages": MESSAGES, "n": 9}, "n"),     # the default max_n: 8
]


@pytest.mark.parametrize("path, body, field", REFUSED, ids=[f"{p}:{f}" for p, _, f in REFUSED])
async def test_a_request_above_a_cap_is_refused_before_the_provider(gw, fake_openai, fake_anthropic, fake_gemini,
                                                                    path, body, field):
    status, data = await post(gw, path, body)
    assert named_field(status, data) == field
    assert "caps." in str(data)
    assert not (fake_openai.requests or fake_anthropic.requests or fake_gemini.requests)


ALLOWED = [
    ("/v1/chat/completions", {"model": "chat", "messages": MESSAGES, "n": 2, "max_tokens": 100}),
    ("/v1/embeddings", {"model": "embed", "input": [1, 2, 3, 4, 5]}),            # one token array: one input
    ("/v1/embeddings", {"model": "embed", "input": ["a", "b", "c"]}),
    ("/anthropic/v1/messages", {"model": "claude", "messages": MESSAGES, "max_tokens": 100}),
    (GEN, {"contents": CONTENTS, "generationConfig": {"candidateCount": 2, "maxOutputTokens": 100}}),
    ("/v1/chat/completions", {"model": "plain", "messages": MESSAGES, "n": 8, "max_tokens": 100_000}),
]


@pytest.mark.parametrize("path, body", ALLOWED)
async def test_a_request_at_the_caps_goes_through(gw, path, body):
    status, data = await post(gw, path, body)
    assert status == 200, data


def test_the_legacy_max_n_field_still_sets_caps_max_n():
    text = """
providers: {o: {type: openai, base_url: "http://127.0.0.1:9"}}
endpoints: {c: {task: completions, max_n: 4, served_models: [{name: m, provider: o, model: x}]}}
"""
    assert parse_settings(text, "t.yaml", {}).endpoints["c"].caps.max_n == 4
    with pytest.raises(ConfigError, match="max_n"):
        parse_settings(text.replace("max_n: 4", "caps: {max_n: 0}"), "t.yaml", {})


# -- a 429 that says the quota is gone ------------------------------------------------------------

QUOTA_429 = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                       "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}


@pytest_asyncio.fixture
async def other():
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


def quota_config(url_a: str, url_b: str, same_provider_fallback: bool) -> dict:
    providers = {"p1": {"type": "openai", "base_url": url_a, "api_key": "sk-1"},
                 "p2": {"type": "openai", "base_url": url_b, "api_key": "sk-2"}}
    return {"providers": providers, "keys": [{"name": "k", "key": TEST_KEY}],
            "endpoints": {"chat": {
                "served_models": [
                    {"name": "primary", "provider": "p1", "model": "gpt-4o", "traffic_percentage": 100},
                    {"name": "same-account", "provider": "p1", "model": "gpt-4o-mini", "traffic_percentage": 0},
                    {"name": "elsewhere", "provider": "p2", "model": "gpt-4o", "traffic_percentage": 0}],
                "fallbacks": ["same-account"] if same_provider_fallback else ["same-account", "elsewhere"],
                "retry": {"attempts_per_model": 3, "max_attempts": 5, "backoff_base_seconds": 0.01}}}}


@pytest.mark.parametrize("same_provider_only", [False, True])
async def test_an_exhausted_quota_is_not_retried_on_the_same_provider(fake_openai, other, tmp_path,
                                                                      same_provider_only):
    fake_openai.always(Behavior(status=429, error_body=QUOTA_429))
    cfg = quota_config(fake_openai.base_url, other.base_url, same_provider_only)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        status, data = await post(gw, "/v1/chat/completions", {"model": "chat", "messages": MESSAGES})
    assert len(fake_openai.requests) == 1            # neither retried nor sent to p1's other model
    if same_provider_only:
        assert status == 429 and data["error"]["code"] == "insufficient_quota" and not other.requests
    else:
        assert status == 200 and len(other.requests) == 1


async def test_a_rate_limit_429_is_still_retried(fake_openai, other, tmp_path):
    fake_openai.script(Behavior(status=429))          # rate_limit_exceeded: passes by waiting
    cfg = quota_config(fake_openai.base_url, other.base_url, False)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        status, _ = await post(gw, "/v1/chat/completions", {"model": "chat", "messages": MESSAGES})
    assert status == 200 and len(fake_openai.requests) == 2 and not other.requests


@pytest.mark.parametrize("body, exhausted", [
    ({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
             "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}, True),
    ({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]}]}}, False),
    ({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted"}}, False),
])
async def test_a_gemini_daily_quota_429_is_not_retried(fake_gemini, tmp_path, body, exhausted):
    fake_gemini.always(Behavior(status=429, error_body=body))
    cfg = {"providers": {"g": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "gk"}},
           "endpoints": {"flash": {"served_models": [{"name": "m", "provider": "g", "model": "gemini-2.5-flash"}],
                                   "retry": {"attempts_per_model": 2, "backoff_base_seconds": 0.01}}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        status, _ = await post(gw, GEN, {"contents": CONTENTS})
    assert status == 429 and len(fake_gemini.requests) == (1 if exhausted else 2)
