"""The response cache on one gateway (memory backend): hits, misses, bypass, tenants, stream replay.

Official SDKs are the clients; a hit is proven by the fake provider NOT receiving a request,
and by the ledger row (cache_hit, zero cost, saved cost).
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from caching_support import anthropic_client, gemini_client, openai_client, three_provider_config
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for

from plugins.response_cache.backends import MemoryBackend
from plugins.response_cache.keys import why_not_cacheable

CACHE = {"mode": "exact", "ttl_seconds": 60, "backend": "memory"}
#: Anthropic's API version 2026-10-21 takes no temperature: the client asks for caching instead
USE = {"x-relaygate-cache": "use"}
ASK = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
async def gw(fake_anthropic, fake_openai, fake_gemini, tmp_path):
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini, cache=CACHE)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


def chat(gw, key: str = TEST_KEY, headers: dict | None = None, **kw):
    client = openai_client(gw, key=key, default_headers=headers or {})
    return client.chat.completions.with_raw_response.create(**{"model": "gpt", "messages": ASK,
                                                                "temperature": 0, **kw})


async def test_second_identical_request_is_a_hit_without_a_provider_call(gw, fake_openai):
    fake_openai.always(Behavior(text="4", usage=Usage(input_tokens=1000, output_tokens=10, cached_tokens=200)))
    first = await asyncio.to_thread(chat, gw)
    second = await asyncio.to_thread(chat, gw)
    assert first.headers["x-relaygate-cache"] == "miss" and second.headers["x-relaygate-cache"] == "hit"
    assert second.parse().choices[0].message.content == "4"
    assert second.parse().model_dump() == first.parse().model_dump()
    assert len(fake_openai.requests) == 1
    await asyncio.sleep(0.05)
    rows = await gw.ledger_rows()
    assert [r["cache_hit"] for r in rows] == [0, 1]
    miss, hit = rows
    assert miss["cost_usd"] > 0 and hit["cost_usd"] == 0
    assert hit["saved_cost_usd"] == pytest.approx(miss["cost_usd"])
    assert hit["input_tokens"] == 1000 and hit["price_source"] == "catalogue"
    assert hit["price_version"].startswith("genai-prices ")
    text = await gw.metrics()
    assert metric_value(text, "relaygate_response_cache_requests_total", endpoint="gpt", result="hit") == 1
    assert metric_value(text, "relaygate_response_cache_saved_usd_total", endpoint="gpt") == pytest.approx(
        miss["cost_usd"])


async def test_bypass_header_and_nondeterministic_requests_go_to_the_provider(gw, fake_openai):
    await asyncio.to_thread(chat, gw)
    bypassed = await asyncio.to_thread(chat, gw, headers={"x-relaygate-cache": "bypass"})
    warm = await asyncio.to_thread(chat, gw, temperature=0.7)
    warm2 = await asyncio.to_thread(chat, gw, temperature=0.7)
    assert [r.headers["x-relaygate-cache"] for r in (bypassed, warm, warm2)] == ["bypass"] * 3
    assert len(fake_openai.requests) == 4
    forced = [await asyncio.to_thread(chat, gw, temperature=0.7, headers={"x-relaygate-cache": "use"})
              for _ in range(2)]
    assert [r.headers["x-relaygate-cache"] for r in forced] == ["miss", "hit"]
    assert len(fake_openai.requests) == 5


async def test_tenants_never_share_answers_and_any_parameter_changes_the_key(gw, fake_openai):
    await asyncio.to_thread(chat, gw)
    bob = await asyncio.to_thread(chat, gw, key=TEST_KEY + "-bob")
    other_max = await asyncio.to_thread(chat, gw, max_tokens=7)
    assert bob.headers["x-relaygate-cache"] == "miss" and other_max.headers["x-relaygate-cache"] == "miss"
    assert len(fake_openai.requests) == 3


async def test_openai_stream_is_replayed_with_its_framing(gw, fake_openai):
    fake_openai.always(Behavior(text="two plus two is four", chunks=4))

    def run() -> tuple[str, list]:
        client = openai_client(gw)
        chunks = list(client.chat.completions.create(model="gpt", messages=ASK, temperature=0, stream=True,
                                                     stream_options={"include_usage": True}))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks
    text1, chunks1 = await asyncio.to_thread(run)
    text2, chunks2 = await asyncio.to_thread(run)
    assert text1 == text2 == "two plus two is four"
    assert [c.model_dump() for c in chunks1] == [c.model_dump() for c in chunks2]
    assert chunks2[-1].usage is not None
    assert len(fake_openai.requests) == 1
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + "/openai/v1/chat/completions", headers={"Authorization": f"Bearer {TEST_KEY}"},
            json={"model": "gpt", "messages": ASK, "temperature": 0, "stream": True,
                  "stream_options": {"include_usage": True}}) as r:
        raw = await r.read()
        assert r.headers["x-relaygate-cache"] == "hit"
        assert r.headers["Content-Type"].startswith("text/event-stream")
    assert raw.endswith(b"data: [DONE]\n\n") and raw.count(b"\n\ndata: ") >= 5


async def test_anthropic_stream_is_replayed_for_the_anthropic_sdk(gw, fake_anthropic):
    fake_anthropic.always(Behavior(text="four", chunks=2))

    def run() -> str:
        with anthropic_client(gw, headers=USE).messages.stream(model="claude", max_tokens=20,
                                                  messages=ASK) as stream:
            return stream.get_final_message().content[0].text
    assert await asyncio.to_thread(run) == await asyncio.to_thread(run) == "four"
    assert len(fake_anthropic.requests) == 1


async def test_gemini_streams_are_replayed_for_the_genai_sdk(gw, fake_gemini):
    from google.genai import types
    fake_gemini.always(Behavior(text="four", chunks=2))
    client = gemini_client(gw)
    config = types.GenerateContentConfig(temperature=0)

    def run() -> str:
        return "".join(c.text or "" for c in client.models.generate_content_stream(
            model="flash", contents="What is 2+2?", config=config))
    assert await asyncio.to_thread(run) == await asyncio.to_thread(run) == "four"
    assert len(fake_gemini.requests) == 1
    # the JSON-array stream (no alt=sse) is its own entry, replayed as a JSON array
    for _ in range(2):
        async with aiohttp.ClientSession() as s, s.post(
                gw.url + "/gemini/v1beta/models/flash:streamGenerateContent", headers={"x-goog-api-key": TEST_KEY},
                json={"contents": [{"role": "user", "parts": [{"text": "What is 2+2?"}]}],
                      "generationConfig": {"temperature": 0}}) as r:
            body = await r.json(content_type=None)
            assert isinstance(body, list) and body[-1]["candidates"][0]["finishReason"] == "STOP"
    assert r.headers["x-relaygate-cache"] == "hit"
    assert len(fake_gemini.requests) == 2


async def test_an_error_answer_is_never_stored(gw, fake_openai):
    fake_openai.script(Behavior(status=400), Behavior(text="ok"))
    async with aiohttp.ClientSession() as s:
        for status in (400, 200):
            async with s.post(gw.url + "/openai/v1/chat/completions", headers={"Authorization": f"Bearer {TEST_KEY}"},
                              json={"model": "gpt", "messages": ASK, "temperature": 0}) as r:
                assert r.status == status
        assert r.headers["x-relaygate-cache"] == "miss"       # the 400 was not stored


def test_determinism_rule() -> None:
    base = {"messages": ASK, "temperature": 0}
    assert why_not_cacheable(base, deterministic_only=True, forced=False) == ""
    assert why_not_cacheable({**base, "temperature": 0.2}, deterministic_only=True, forced=False)
    assert why_not_cacheable({"messages": ASK}, deterministic_only=True, forced=False)
    assert why_not_cacheable({**base, "n": 2}, deterministic_only=True, forced=True) == "n > 1"
    tool_turn = {"messages": [*ASK, {"role": "tool", "tool_call_id": "c", "content": "x"}], "temperature": 0}
    assert why_not_cacheable(tool_turn, deterministic_only=True, forced=False) == "has tool turns"
    anthropic_turn = {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}],
                      "temperature": 0}
    assert why_not_cacheable(anthropic_turn, deterministic_only=True, forced=False) == "has tool turns"
    gemini = {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f"}}]}],
              "generationConfig": {"temperature": 0}}
    assert why_not_cacheable(gemini, deterministic_only=True, forced=False) == "has tool turns"
    assert why_not_cacheable({"contents": [], "generationConfig": {"temperature": 0, "candidateCount": 3}},
                             deterministic_only=False, forced=False) == "n > 1"


async def test_memory_backend_is_lru_bounded_by_bytes() -> None:
    m = MemoryBackend(max_bytes=100)
    await m.set("a", b"x" * 40, 60)
    await m.set("b", b"y" * 40, 60)
    assert await m.get("a") == b"x" * 40          # a is now the most recently used
    await m.set("c", b"z" * 40, 60)               # 120 bytes: the least recently used (b) goes
    assert await m.get("b") is None and await m.get("a") is not None and m.used == 80
    await m.set("huge", b"h" * 101, 60)           # larger than the whole store: not kept
    assert await m.get("huge") is None
    await m.set("short", b"s", 0)
    assert await m.get("short") is None           # expired


async def test_hits_spend_no_token_limit_and_no_budget(fake_anthropic, fake_openai, fake_gemini, tmp_path):
    """A key with 1500 tokens a minute: one provider answer of 1010 tokens, then hits that cost nothing."""
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini, cache=CACHE)
    cfg["limits"] = {"rules": [{"scope": "key", "tokens_per_minute": 1500}]}
    fake_openai.always(Behavior(text="4", usage=Usage(input_tokens=1000, output_tokens=10)))
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        answers = [await asyncio.to_thread(chat, g, max_tokens=10) for _ in range(4)]
        assert [a.headers["x-relaygate-cache"] for a in answers] == ["miss", "hit", "hit", "hit"]
        assert len(fake_openai.requests) == 1
