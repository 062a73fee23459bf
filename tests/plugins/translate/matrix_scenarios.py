"""The conformance matrix: every client surface x every provider, one scenario per column.

A scenario drives the client's official SDK through the gateway against a fake
upstream, checks what the client saw and what the provider received, and
finally validates every client-side body and event against the SDKs' wire models.
Used by test_conformance_matrix.py and by ``tests/translate_matrix.py``
(prints the table).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from matrix_drivers import DRIVERS, PNG, Driver
from support.behavior import Behavior, ToolCall, Usage
from support.fake_anthropic import SIGNATURE, FakeAnthropic
from support.fake_gemini import THOUGHT_SIGNATURE, FakeGemini
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, run_gateway, settings_for

CLIENTS = ("chat", "responses", "anthropic", "gemini")
PROVIDERS = ("openai", "anthropic", "gemini")
NATIVE = {("chat", "openai"), ("anthropic", "anthropic"), ("gemini", "gemini")}
MODELS = {"openai": "m-openai", "anthropic": "m-anthropic", "gemini": "m-gemini"}


class DeclaredUnsupported(Exception):
    """A cell the target cannot express, by documented policy."""


@dataclass
class Env:
    url: str
    fakes: dict[str, Any]


def config(fakes: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": {
            # openai_compatible: a chat-completions-only server (vLLM), so Responses is translated too
            "oai": {"type": "openai_compatible", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
            "ant": {"type": "anthropic", "base_url": fakes["anthropic"].base_url, "api_key": "sk-ant-up"},
            "gem": {"type": "gemini", "base_url": fakes["gemini"].base_url, "api_key": "g-up"},
        },
        "endpoints": {
            "m-openai": {"served_models": [{"name": "gpt", "provider": "oai", "model": "gpt-4o-mini"}]},
            "m-anthropic": {"served_models": [{"name": "claude", "provider": "ant", "model": "claude-sonnet-4-6"}]},
            "m-gemini": {"served_models": [{"name": "gemini", "provider": "gem", "model": "gemini-2.5-flash"}]},
        },
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
    }


@asynccontextmanager
async def environment(ledger_path: str) -> AsyncIterator[Env]:
    fakes = {"openai": await FakeOpenAI().start(), "anthropic": await FakeAnthropic().start(),
             "gemini": await FakeGemini().start()}
    try:
        async with run_gateway(settings_for(config(fakes), ledger_path=ledger_path)) as gw:
            yield Env(gw.url, fakes)
    finally:
        for f in fakes.values():
            await f.stop()


# ---------------------------------------------------------------------------------- upstream views

def upstream_calls_and_results(provider: str,
                               body: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """((id, name) of the last assistant turn's tool calls, (id, content) of tool results) as the provider saw them."""
    calls: list[tuple[str, str]] = []
    results: list[tuple[str, str]] = []
    if provider == "openai":
        for m in body["messages"]:
            if m.get("tool_calls"):
                calls = [(t["id"], t["function"]["name"]) for t in m["tool_calls"]]
            if m["role"] == "tool":
                results.append((m["tool_call_id"], m["content"] if isinstance(m["content"], str)
                                else "".join(p["text"] for p in m["content"])))
    elif provider == "anthropic":
        for m in body["messages"]:
            for b in m["content"] if isinstance(m["content"], list) else []:
                if b["type"] == "tool_use":
                    calls.append((b["id"], b["name"]))
                if b["type"] == "tool_result":
                    c = b["content"]
                    results.append((b["tool_use_id"], c if isinstance(c, str) else "".join(x["text"] for x in c)))
    else:
        for c in body["contents"]:
            for p in c["parts"]:
                if "functionCall" in p:
                    calls.append((p["functionCall"].get("id", ""), p["functionCall"]["name"]))
                if "functionResponse" in p:
                    r = p["functionResponse"]
                    results.append((r.get("id", ""), r["response"].get("output", "")))
    return calls, results


def saw_system(provider: str, body: dict[str, Any]) -> bool:
    if provider == "openai":
        return any(m["role"] in ("system", "developer") and "Be brief." in json.dumps(m) for m in body["messages"])
    if provider == "anthropic":
        return "Be brief." in json.dumps(body.get("system"))
    return "Be brief." in json.dumps(body.get("systemInstruction"))


# ---------------------------------------------------------------------------------- scenarios

async def run(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kw)


async def plain_text(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.script(Behavior(text="Hi there, friend."))
    t = await run(d.turn, MODELS[provider], d.first("Hello"))
    assert t.text == "Hi there, friend.", t.text
    assert saw_system(provider, fake.last.body), fake.last.body


async def streaming_text(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.script(Behavior(text="Streaming works, piece by piece.", chunks=5))
    t = await run(d.turn, MODELS[provider], d.first("Hello"), stream=True)
    assert t.text == "Streaming works, piece by piece.", t.text


async def _tool_round_trip(d: Driver, fake: Any, provider: str, native: bool, *, stream: bool,
                          cities: list[str]) -> None:
    fake.script(Behavior(tool_calls=[ToolCall("get_weather", {"city": c}) for c in cities]),
                Behavior(text="Sunny everywhere."))
    model = MODELS[provider]
    history = d.first("Weather?")
    t1 = await run(d.turn, model, history, stream=stream, tools=True)
    assert [(c["name"], c["args"]) for c in t1.calls] == [("get_weather", {"city": c}) for c in cities], t1.calls
    if not (native and d.surface == "gemini"):          # Gemini itself may send calls without ids
        assert all(c["id"] for c in t1.calls), t1.calls
        assert len({c["id"] for c in t1.calls}) == len(cities)
    results = [f"sunny in {c['args']['city']}" for c in t1.calls]
    t2 = await run(d.turn, model, d.follow(history, t1, results), stream=stream, tools=True)
    assert t2.text == "Sunny everywhere.", t2.text
    calls, got = upstream_calls_and_results(provider, fake.last.body)
    assert [n for _, n in calls] == ["get_weather"] * len(cities), calls
    assert [i for i, _ in got] == [i for i, _ in calls], (calls, got)          # ids stay paired, in order
    assert [c for _, c in got] == [f"sunny in {c}" for c in cities], got


async def tool_round_trip(d: Driver, fake: Any, provider: str, native: bool) -> None:
    await _tool_round_trip(d, fake, provider, native, stream=False, cities=["Paris"])


async def tool_round_trip_streamed(d: Driver, fake: Any, provider: str, native: bool) -> None:
    await _tool_round_trip(d, fake, provider, native, stream=True, cities=["Paris"])


async def parallel_tool_calls(d: Driver, fake: Any, provider: str, native: bool) -> None:
    await _tool_round_trip(d, fake, provider, native, stream=True, cities=["Paris", "Rome", "Oslo"])


async def structured_output(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.script(Behavior(text='{"answer":"42"}'))
    t = await run(d.structured, MODELS[provider], "Answer in JSON")
    assert json.loads(t.text) == {"answer": "42"}
    body = fake.last.body
    if provider == "openai":
        assert body["response_format"]["type"] == "json_schema", body
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["answer"]
    elif provider == "anthropic":
        assert body["output_config"]["format"]["schema"]["required"] == ["answer"], body
    else:
        gc = body["generationConfig"]
        assert gc["responseMimeType"] == "application/json"
        assert (gc.get("responseJsonSchema") or gc.get("responseSchema"))["required"] == ["answer"], gc


async def image_input(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.script(Behavior(text="One pixel."))
    t = await run(d.turn, MODELS[provider], d.image("What is this?"))
    assert t.text == "One pixel."
    body = json.dumps(fake.last.body)
    assert PNG in body, body[:500]
    assert "image/png" in body


async def reasoning_follow_up(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.script(Behavior(reasoning="Let me think about Paris.",
                         tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
                Behavior(text="Sunny."))
    model = MODELS[provider]
    history = d.first("Weather?")
    t1 = await run(d.turn, model, history, stream=True, tools=True, **d.reasoning_kw())
    assert t1.reasoning == "Let me think about Paris.", t1.reasoning
    first = fake.last.body
    if provider == "anthropic":
        assert first["thinking"]["type"] in ("enabled", "adaptive"), first
    elif provider == "gemini":
        assert first["generationConfig"]["thinkingConfig"], first
    else:
        assert first.get("reasoning_effort"), first
    results = ["sunny" for _ in t1.calls]
    t2 = await run(d.turn, model, d.follow(history, t1, results), stream=True, tools=True, **d.reasoning_kw())
    assert t2.text == "Sunny."
    body = fake.last.body
    if provider == "anthropic":         # the signed thinking block comes back verbatim, before the tool_use
        turn = next(m for m in body["messages"] if m["role"] == "assistant")
        kinds = [b["type"] for b in turn["content"]]
        assert kinds[0] == "thinking" and turn["content"][0]["signature"] == SIGNATURE, turn
        assert turn["content"][0]["thinking"] == "Let me think about Paris."
    elif provider == "gemini":          # the thought signature is back on its functionCall part
        turn = next(c for c in body["contents"] if c["role"] == "model")
        call = next(p for p in turn["parts"] if "functionCall" in p)
        assert call.get("thoughtSignature") == THOUGHT_SIGNATURE, turn
    elif not native:                    # a chat server gets no gateway extension fields
        assert "thinking_blocks" not in json.dumps(body) and "extra_content" not in json.dumps(body), body


async def usage_in_stream(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.script(Behavior(text="Counted.", usage=Usage(input_tokens=21, output_tokens=7)))
    t = await run(d.turn, MODELS[provider], d.first("Count"), stream=True)
    assert t.usage == (21, 7), t.usage


OVERLOADED = {"openai": 503, "anthropic": 529, "gemini": 503}


async def upstream_error(d: Driver, fake: Any, provider: str, native: bool) -> None:
    fake.always(Behavior(status=OVERLOADED[provider]))      # every attempt: the gateway may retry
    status = await run(d.error_status, MODELS[provider])
    expected = 529 if d.surface == "anthropic" else 503
    assert status == expected, (status, expected)


SCENARIOS: dict[str, Callable[..., Any]] = {
    "text": plain_text, "stream": streaming_text, "tools": tool_round_trip, "tools-stream": tool_round_trip_streamed,
    "parallel-tools": parallel_tool_calls, "structured": structured_output, "image": image_input,
    "reasoning": reasoning_follow_up, "stream-usage": usage_in_stream, "error": upstream_error,
}


async def run_cell(env: Env, scenario: str, client: str, provider: str) -> None:
    fake = env.fakes[provider]
    fake.reset()
    d = DRIVERS[client](env.url)
    try:
        await SCENARIOS[scenario](d, fake, provider, (client, provider) in NATIVE)
        d.validate()
    finally:
        d.http.close()
