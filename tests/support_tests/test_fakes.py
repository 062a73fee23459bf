"""Tests for the fake upstreams: their replies validate against the official SDKs' wire models
(support/specs.py), and the official SDKs pointed straight at them parse the replies. Last, the
validators themselves: each must reject a body with one field missing or wrong."""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from support.fake_base import Behavior, ToolCall, Usage, split_chunks
from support.fake_openai import FakeOpenAI, decode_base64_embedding, embedding_vector
from support.specs import (parse_sse, validate_anthropic, validate_anthropic_stream, validate_gemini,
                           validate_gemini_sse, validate_openai, validate_openai_chat_stream,
                           validate_openai_completions_stream, validate_responses_stream, validate_union)

WEATHER = ToolCall("get_weather", {"location": "Paris"})


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as s:
        yield s


async def post(http, url, body, headers=None):
    async with http.post(url, json=body, headers=headers or {}) as r:
        return r.status, r.headers, await r.text()


# ------------------------------------------------------------------------------- base helpers

def test_split_chunks():
    assert split_chunks("abcdefg", 3) == ["abc", "de", "fg"]
    assert split_chunks("ab", 5) == ["a", "b"]
    assert split_chunks("", 3) == [""]


def test_parse_sse_line_endings():
    text = "event: a\r\ndata: 1\r\n\r\n: comment\n\ndata: x\ndata: y\n\n"
    assert parse_sse(text) == [("a", "1"), (None, "x\ny")]


# ------------------------------------------------------------------------------- OpenAI

async def test_openai_chat_json_validates_and_records(fake_openai, http):
    st, _, t = await post(http, fake_openai.base_url + "/chat/completions",
                          {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                          {"Authorization": "Bearer sk-upstream"})
    assert st == 200
    body = validate_openai("CreateChatCompletionResponse", json.loads(t))
    assert body["choices"][0]["message"]["content"] == "Hello from the fake model."
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    rec = fake_openai.last
    assert rec.path == "/v1/chat/completions" and rec.method == "POST"
    assert rec.headers["Authorization"] == "Bearer sk-upstream" and rec.bearer == "sk-upstream"
    assert rec.body["messages"][0]["content"] == "hi"


async def test_openai_chat_tools_reasoning_usage(fake_openai, http):
    fake_openai.script(Behavior(tool_calls=[WEATHER], reasoning="thinking", usage=Usage(20, 10, 4, 6)))
    _, _, t = await post(http, fake_openai.base_url + "/chat/completions", {"model": "m", "messages": []})
    body = validate_openai("CreateChatCompletionResponse", json.loads(t))
    ch = body["choices"][0]
    assert ch["finish_reason"] == "tool_calls" and ch["message"]["content"] is None
    assert json.loads(ch["message"]["tool_calls"][0]["function"]["arguments"]) == {"location": "Paris"}
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 6
    assert body["usage"]["total_tokens"] == 30


async def test_openai_chat_stream_with_and_without_usage(fake_openai, http):
    url = fake_openai.base_url + "/chat/completions"
    _, h, t = await post(http, url, {"model": "m", "messages": [], "stream": True,
                                     "stream_options": {"include_usage": True}})
    assert h["Content-Type"].startswith("text/event-stream")
    chunks = validate_openai_chat_stream(t)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 20
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) \
        == "Hello from the fake model."
    _, _, t = await post(http, url, {"model": "m", "messages": [], "stream": True})
    chunks = validate_openai_chat_stream(t)
    assert all(c["choices"] for c in chunks) and all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_openai_chat_stream_tool_call_deltas(fake_openai, http):
    fake_openai.script(Behavior(tool_calls=[WEATHER, ToolCall("get_time", {"tz": "UTC"}, id="call_x")], chunks=4))
    _, _, t = await post(http, fake_openai.base_url + "/chat/completions",
                         {"model": "m", "messages": [], "stream": True})
    chunks = validate_openai_chat_stream(t)
    args: dict[int, str] = {}
    ids = {}
    for c in chunks:
        for tc in c["choices"][0]["delta"].get("tool_calls") or []:
            args[tc["index"]] = args.get(tc["index"], "") + tc["function"].get("arguments", "")
            if "id" in tc:
                ids[tc["index"]] = tc["id"]
    assert json.loads(args[0]) == {"location": "Paris"} and json.loads(args[1]) == {"tz": "UTC"}
    assert ids[1] == "call_x" and chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_openai_completions_n_prompts_echo_and_stream(fake_openai, http):
    url = fake_openai.base_url + "/completions"
    _, _, t = await post(http, url, {"model": "m", "prompt": ["A:", "B:"], "n": 2, "echo": True})
    body = validate_openai("CreateCompletionResponse", json.loads(t))
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["choices"][2]["text"].startswith("B:")
    _, _, t = await post(http, url, {"model": "m", "prompt": "x", "stream": True,
                                     "stream_options": {"include_usage": True}})
    chunks = validate_openai_completions_stream(t)
    assert chunks[-1]["usage"]["prompt_tokens"] == 12


async def test_openai_embeddings_float_and_base64(fake_openai, http):
    url = fake_openai.base_url + "/embeddings"
    _, _, t = await post(http, url, {"model": "e", "input": ["a", "b"], "encoding_format": "float"})
    body = validate_openai("CreateEmbeddingResponse", json.loads(t))
    assert [d["embedding"] for d in body["data"]] == [embedding_vector(0, 8), embedding_vector(1, 8)]
    _, _, t = await post(http, url, {"model": "e", "input": "a", "encoding_format": "base64", "dimensions": 4})
    body = json.loads(t)
    assert decode_base64_embedding(body["data"][0]["embedding"]) == embedding_vector(0, 4)


async def test_openai_models_and_paths_without_v1(fake_openai, http):
    async with http.get(fake_openai.root_url + "/models") as r:
        validate_openai("ListModelsResponse", await r.json())
    async with http.get(fake_openai.base_url + "/models/gpt-4o") as r:
        validate_openai("Model", await r.json())
    st, _, t = await post(http, fake_openai.root_url + "/nope", {})
    assert st == 404 and validate_openai("ErrorResponse", json.loads(t))


async def test_openai_prefix():
    async with FakeOpenAI(prefix="/openai") as fake, aiohttp.ClientSession() as http:
        assert fake.base_url.endswith("/openai/v1")
        st, _, t = await post(http, fake.base_url + "/chat/completions", {"model": "m", "messages": []})
        assert st == 200 and fake.last.path == "/openai/v1/chat/completions"


async def test_openai_responses_json_and_stream(fake_openai, http):
    url = fake_openai.base_url + "/responses"
    _, _, t = await post(http, url, {"model": "gpt-5.5", "input": "hi"})
    body = validate_openai("Response", json.loads(t))
    assert body["output"][0]["content"][0]["text"] == "Hello from the fake model."
    fake_openai.script(Behavior(reasoning="plan", tool_calls=[WEATHER], text="ok",
                                usage=Usage(30, 9, reasoning_tokens=5, cached_tokens=7)))
    _, _, t = await post(http, url, {"model": "gpt-5.5", "input": "hi", "stream": True})
    events = validate_responses_stream(t)
    types = [e["type"] for e in events]
    for needed in ["response.created", "response.in_progress", "response.output_item.added",
                   "response.content_part.added", "response.output_text.delta", "response.output_text.done",
                   "response.content_part.done", "response.output_item.done",
                   "response.reasoning_summary_text.delta", "response.function_call_arguments.delta"]:
        assert needed in types, needed
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    done = [e["item"]["type"] for e in events if e["type"] == "response.output_item.done"]
    assert done == ["reasoning", "message", "function_call"]
    usage = events[-1]["response"]["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == 5
    assert usage["input_tokens_details"]["cached_tokens"] == 7


async def test_openai_errors_exact_shape_and_retry_after(fake_openai, http):
    fake_openai.script(Behavior(status=429, retry_after=7), Behavior(status=401), Behavior(status=500))
    url = fake_openai.base_url + "/chat/completions"
    st, h, t = await post(http, url, {"model": "m"})
    assert st == 429 and h["Retry-After"] == "7"
    assert json.loads(t) == {"error": {"message": "Rate limit reached for requests.", "type": "requests",
                                       "param": None, "code": "rate_limit_exceeded"}}
    st, _, t = await post(http, url, {"model": "m"})
    assert st == 401 and validate_openai("ErrorResponse", json.loads(t))["error"]["code"] == "invalid_api_key"
    st, _, t = await post(http, url, {"model": "m"})
    assert st == 500 and json.loads(t)["error"]["type"] == "server_error"
    st, _, _ = await post(http, url, {"model": "m"})
    assert st == 200  # queue exhausted -> default


async def test_scripted_times_match_and_always(fake_openai, http):
    fake_openai.script(Behavior(status=503, times=2, match="/embeddings"))
    chat, emb = fake_openai.base_url + "/chat/completions", fake_openai.base_url + "/embeddings"
    assert (await post(http, chat, {"model": "m"}))[0] == 200
    assert (await post(http, emb, {"model": "m", "input": "x"}))[0] == 503
    assert (await post(http, emb, {"model": "m", "input": "x"}))[0] == 503
    assert (await post(http, emb, {"model": "m", "input": "x"}))[0] == 200
    fake_openai.always(Behavior(text="always"))
    for _ in range(2):
        assert "always" in (await post(http, chat, {"model": "m"}))[2]
    assert len(fake_openai.requests_to("/embeddings")) == 3


async def test_broken_stream_really_breaks(fake_openai, http):
    fake_openai.script(Behavior(break_after=2))
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(http, fake_openai.base_url + "/chat/completions", {"model": "m", "stream": True})
    fake_openai.script(Behavior(break_after=2, break_clean=True))
    _, _, t = await post(http, fake_openai.base_url + "/chat/completions", {"model": "m", "stream": True})
    assert len(parse_sse(t)) == 2 and "[DONE]" not in t


async def test_malformed_json_and_sse(fake_openai, http):
    fake_openai.script(Behavior(malformed=True), Behavior(malformed=True))
    _, _, t = await post(http, fake_openai.base_url + "/chat/completions", {"model": "m"})
    with pytest.raises(ValueError):
        json.loads(t)
    _, _, t = await post(http, fake_openai.base_url + "/chat/completions", {"model": "m", "stream": True})
    with pytest.raises(ValueError):
        json.loads(parse_sse(t)[1][1])


async def test_latency_and_chunk_delay(fake_openai, http):
    fake_openai.script(Behavior(latency=0.2, chunk_delay=0.05, chunks=3))
    t0 = time.monotonic()
    await post(http, fake_openai.base_url + "/chat/completions", {"model": "m", "stream": True})
    assert time.monotonic() - t0 >= 0.2 + 0.05 * 4


@pytest.mark.parametrize("stall", ["headers", "stream"])
async def test_stall_until_client_disconnects(fake_openai, http, stall):
    fake_openai.script(Behavior(stall=stall, stall_after=2))
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(fake_openai.base_url + "/chat/completions", json={"model": "m", "stream": True},
                             timeout=aiohttp.ClientTimeout(total=0.4)) as r:
            await r.read()
    rec = await fake_openai.wait_for_disconnect()
    assert rec.disconnected and rec.disconnect_stage == stall
    assert rec.events_sent == (2 if stall == "stream" else 0)


async def test_responses_stream_error_event(fake_openai, http):
    fake_openai.script(Behavior(stream_error_after=3))
    _, _, t = await post(http, fake_openai.base_url + "/responses", {"model": "m", "stream": True})
    evs = parse_sse(t)
    assert len(evs) == 4 and evs[-1][0] == "error"
    err = json.loads(evs[-1][1])
    assert err["sequence_number"] == 3 and validate_openai("ResponseErrorEvent", err)


# ------------------------------------------------------------------------------- Anthropic

async def test_anthropic_messages_json(fake_anthropic, http):
    fake_anthropic.script(Behavior(reasoning="hmm", tool_calls=[WEATHER], text="Checking.",
                                   usage=Usage(50, 20, cached_tokens=30, cache_creation_tokens=5)))
    st, h, t = await post(http, fake_anthropic.base_url + "/v1/messages",
                          {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": []}, {"x-api-key": "k1"})
    msg = validate_anthropic("Message", json.loads(t))
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert msg["stop_reason"] == "tool_use" and msg["usage"]["cache_read_input_tokens"] == 30
    assert msg["usage"]["cache_creation_input_tokens"] == 5 and "request-id" in h
    assert fake_anthropic.last.api_key == "k1"


async def test_anthropic_stream_validates(fake_anthropic, http):
    fake_anthropic.script(Behavior(reasoning="let me think", tool_calls=[WEATHER], text="ok"))
    _, _, t = await post(http, fake_anthropic.base_url + "/v1/messages", {"model": "c", "stream": True})
    events = validate_anthropic_stream(t)
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(deltas)
    assert events[1] == {"type": "ping"}
    partial = "".join(e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta")
    assert json.loads(partial) == {"location": "Paris"}
    md = next(e for e in events if e["type"] == "message_delta")
    assert md["delta"]["stop_reason"] == "tool_use" and md["usage"]["output_tokens"] == 8


async def test_anthropic_errors_and_mid_stream_error(fake_anthropic, http):
    fake_anthropic.script(Behavior(status=529), Behavior(status=429, retry_after=2), Behavior(stream_error_after=3))
    url = fake_anthropic.base_url + "/v1/messages"
    st, _, t = await post(http, url, {"model": "c"})
    body = validate_anthropic("ErrorResponse", json.loads(t))
    assert st == 529 and body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert body["type"] == "error" and body["request_id"]
    st, h, t = await post(http, url, {"model": "c"})
    assert st == 429 and h["Retry-After"] == "2" and json.loads(t)["error"]["type"] == "rate_limit_error"
    _, _, t = await post(http, url, {"model": "c", "stream": True})
    events = validate_anthropic_stream(t)
    assert len(events) == 4 and events[-1]["type"] == "error"


async def test_anthropic_count_tokens_and_models(fake_anthropic, http):
    _, _, t = await post(http, fake_anthropic.base_url + "/v1/messages/count_tokens", {"model": "c"})
    assert validate_anthropic("CountMessageTokensResponse", json.loads(t)) == {"input_tokens": 12}
    async with http.get(fake_anthropic.base_url + "/v1/models") as r:
        validate_anthropic("ListResponse_ModelInfo_", await r.json())


# ------------------------------------------------------------------------------- Gemini

async def test_gemini_generate_json_and_key(fake_gemini, http):
    fake_gemini.script(Behavior(tool_calls=[WEATHER], reasoning="think", text="ok",
                                usage=Usage(10, 9, reasoning_tokens=4, cached_tokens=3)))
    st, _, t = await post(http, fake_gemini.base_url + "/v1beta/models/gemini-2.5-flash:generateContent?key=AIzaK",
                          {"contents": []})
    body = validate_gemini("GenerateContentResponse", json.loads(t))
    parts = body["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and parts[-1]["functionCall"]["args"] == {"location": "Paris"}
    assert body["usageMetadata"] == {**body["usageMetadata"], "promptTokenCount": 10, "candidatesTokenCount": 5,
                                     "thoughtsTokenCount": 4, "totalTokenCount": 19, "cachedContentTokenCount": 3}
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert fake_gemini.last.api_key == "AIzaK" and fake_gemini.last.params["model"] == "gemini-2.5-flash"


async def test_gemini_sse_and_json_array_stream(fake_gemini, http):
    url = fake_gemini.base_url + "/v1/models/gemini-2.5-flash:streamGenerateContent"
    _, h, t = await post(http, url + "?alt=sse", {"contents": []}, {"x-goog-api-key": "g"})
    assert h["Content-Type"].startswith("text/event-stream") and "\r\n\r\n" in t
    chunks = validate_gemini_sse(t)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Hello from the fake model."
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 20 and fake_gemini.last.api_key == "g"
    _, _, t = await post(http, url, {"contents": []})
    assert t.startswith("[{") and t.endswith("]")
    arr = json.loads(t)
    assert len(arr) == len(chunks) and all(validate_gemini("GenerateContentResponse", c) for c in arr)


async def test_gemini_vertex_paths_and_bearer(fake_gemini, http):
    base = fake_gemini.base_url + "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro"
    st, _, t = await post(http, base + ":generateContent", {"contents": []}, {"Authorization": "Bearer ya29.x"})
    assert st == 200 and validate_gemini("GenerateContentResponse", json.loads(t))
    rec = fake_gemini.last
    assert rec.bearer == "ya29.x" and rec.params["project"] == "p1" and rec.params["location"] == "us-central1"
    _, _, t = await post(http, base + ":streamGenerateContent?alt=sse", {"contents": []})
    validate_gemini_sse(t)


async def test_gemini_count_embed_batch_models(fake_gemini, http):
    base = fake_gemini.base_url + "/v1beta/models/"
    _, _, t = await post(http, base + "gemini-2.5-flash:countTokens", {"contents": []})
    assert validate_gemini("CountTokensResponse", json.loads(t))["totalTokens"] == 12
    _, _, t = await post(http, base + "gemini-embedding-001:embedContent", {"content": {"parts": [{"text": "a"}]}})
    assert len(validate_gemini("EmbedContentResponse", json.loads(t))["embedding"]["values"]) == 8
    _, _, t = await post(http, base + "gemini-embedding-001:batchEmbedContents",
                         {"requests": [{"content": {}}, {"content": {}, "outputDimensionality": 3}]})
    body = validate_gemini("BatchEmbedContentsResponse", json.loads(t))
    assert [len(e["values"]) for e in body["embeddings"]] == [8, 3]
    async with http.get(fake_gemini.base_url + "/v1beta/models") as r:
        validate_gemini("ListModelsResponse", await r.json())


async def test_gemini_errors(fake_gemini, http):
    fake_gemini.script(Behavior(status=429, retry_after=1), Behavior(status=400, error_message="bad field"))
    url = fake_gemini.base_url + "/v1beta/models/m:generateContent"
    st, h, t = await post(http, url, {})
    assert st == 429 and h["Retry-After"] == "1"
    body = json.loads(t)
    assert body == {"error": {"code": 429, "message": body["error"]["message"], "status": "RESOURCE_EXHAUSTED"}}
    validate_gemini("Status", body["error"])
    st, _, t = await post(http, url, {})
    assert json.loads(t)["error"] == {"code": 400, "message": "bad field", "status": "INVALID_ARGUMENT"}


# ------------------------------------------------------------------------------- validators reject bad bodies

def test_validators_reject_broken_bodies():
    good = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": None, "finish_reason": None}]}
    validate_openai("CreateChatCompletionStreamResponse", good)
    bad = {**good, "created": "yesterday", "choices": [{**good["choices"][0], "finish_reason": "done"}]}
    with pytest.raises(AssertionError, match="finish_reason"):
        validate_openai("CreateChatCompletionStreamResponse", bad)
    with pytest.raises(AssertionError, match="stop_sequence"):
        validate_anthropic("Message", {"id": "m", "type": "message", "role": "assistant", "model": "c",
                                       "content": [], "stop_reason": "end_turn", "usage": {}})
    with pytest.raises(AssertionError):
        validate_gemini("GenerateContentResponse", {"candidates": [{"index": "0", "finishReason": "DONE"}]})
    with pytest.raises(AssertionError, match="DONE"):
        validate_openai_chat_stream("data: " + json.dumps(good) + "\n\n")
    with pytest.raises(AssertionError, match="response.completed"):
        validate_responses_stream(
            'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":'
            + json.dumps(_minimal_response()) + '}\n\n')
    with pytest.raises(AssertionError, match=r"\\r\\n"):
        validate_gemini_sse('data: {"candidates": []}\n\n')


def _minimal_response():
    return {"id": "r", "object": "response", "created_at": 1, "status": "in_progress", "model": "m", "output": [],
            "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
            "parallel_tool_calls": True, "temperature": 1, "top_p": 1, "tool_choice": "auto", "tools": []}


# One valid body per validated shape; each case below breaks one field of it.
CHAT = {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "usage": None,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "hi", "refusal": None}}]}
CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": None, "finish_reason": None}]}
OPENAI_ERROR = {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}
TEXT_DELTA = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
              "delta": "x", "logprobs": [], "sequence_number": 3}
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "c",
           "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None,
           "usage": {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": None,
                     "cache_read_input_tokens": None}}
MESSAGE_DELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                 "usage": {"output_tokens": 3}}
GENERATE = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
            "createTime": "2026-01-02T03:04:05.123456Z"}
OPENAI, ANTHROPIC, GEMINI = validate_openai, validate_anthropic, validate_gemini
DROP = object()

BROKEN = [
    # (validator, schema name, valid body, path to break, new value or DROP, the error must name)
    (OPENAI, "CreateChatCompletionResponse", CHAT, "choices.0.message.content", DROP, "content"),
    (OPENAI, "CreateChatCompletionResponse", CHAT, "choices.0.logprobs", DROP, "logprobs"),
    (OPENAI, "CreateChatCompletionResponse", CHAT, "choices.0.finish_reason", "done", "finish_reason"),
    (OPENAI, "CreateChatCompletionResponse", CHAT, "created", "1", "created"),
    (OPENAI, "CreateChatCompletionResponse", CHAT, "id", DROP, "id"),
    (OPENAI, "CreateChatCompletionResponse", CHAT, "object", "chat.completions", "object"),
    (OPENAI, "CreateChatCompletionStreamResponse", CHUNK, "choices.0.finish_reason", DROP, "finish_reason"),
    (OPENAI, "CreateChatCompletionStreamResponse", CHUNK, "choices.0.delta.content", 7, "content"),
    (OPENAI, "ErrorResponse", OPENAI_ERROR, "error.param", DROP, "param"),
    (OPENAI, "ErrorResponse", OPENAI_ERROR, "error.message", DROP, "message"),
    (OPENAI, "Response", None, "incomplete_details", DROP, "incomplete_details"),
    (OPENAI, "Response", None, "created_at", "now", "created_at"),
    (OPENAI, "Response", None, "status", "thinking", "status"),
    ("openai-event", "ResponseStreamEvent", TEXT_DELTA, "sequence_number", DROP, "sequence_number"),
    ("openai-event", "ResponseStreamEvent", TEXT_DELTA, "type", "response.output_text.more", "unknown type"),
    (ANTHROPIC, "Message", MESSAGE, "stop_sequence", DROP, "stop_sequence"),
    (ANTHROPIC, "Message", MESSAGE, "stop_reason", "finished", "stop_reason"),
    (ANTHROPIC, "Message", MESSAGE, "usage.output_tokens", "1", "output_tokens"),
    (ANTHROPIC, "Message", MESSAGE, "content.0.type", "txt", "content"),
    (ANTHROPIC, "CountMessageTokensResponse", {"input_tokens": 3}, "input_tokens", DROP, "input_tokens"),
    ("anthropic-event", "MessageStreamEvent", MESSAGE_DELTA, "delta.stop_reason", DROP, "stop_reason"),
    ("anthropic-event", "MessageStreamEvent", MESSAGE_DELTA, "usage.output_tokens", DROP, "output_tokens"),
    (GEMINI, "GenerateContentResponse", GENERATE, "candidates.0.finishReason", "DONE", "DONE"),
    (GEMINI, "GenerateContentResponse", GENERATE, "candidates.0.index", "0", "index"),
    (GEMINI, "GenerateContentResponse", GENERATE, "candidates.0.content.parts.0", {}, "exactly one"),
    (GEMINI, "GenerateContentResponse", GENERATE, "usageMetadata.totalTokenCount", 2.5, "totalTokenCount"),
    (GEMINI, "GenerateContentResponse", GENERATE, "createTime", "yesterday", "createTime"),
    (GEMINI, "CountTokensResponse", {"totalTokens": 3}, "totalTokens", DROP, "totalTokens"),
    (GEMINI, "EmbedContentResponse", {"embedding": {"values": [0.5]}}, "embedding.values", ["x"], "values"),
    (GEMINI, "Status", {"code": 400, "message": "bad"}, "code", "400", "code"),
]


def _broken(body: dict, path: str, value: object) -> dict:
    body = json.loads(json.dumps(body))
    *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = body
    for key in parents:
        node = node[key]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    return body


def _check(validator, name: str, body: dict) -> None:
    if validator == "openai-event":
        validate_union("openai", name, body)
    elif validator == "anthropic-event":
        validate_union("anthropic", name, body)
    else:
        validator(name, body)


@pytest.mark.parametrize(("validator", "name", "good", "path", "value", "message"), BROKEN,
                         ids=[f"{c[1]}:{c[3]}" for c in BROKEN])
def test_validators_reject_one_broken_field(validator, name, good, path, value, message):
    good = good or _minimal_response()
    _check(validator, name, good)                     # the valid body passes...
    with pytest.raises(AssertionError, match=message):
        _check(validator, name, _broken(good, path, value))   # ...and fails with the one field broken
