"""What the spans read from answers (id, model, finish reasons, text) in every wire format, and the
opt-in prompt and completion content, redacted like payload logging."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from otlp_receiver import OtlpReceiver
from support.behavior import Behavior
from tracing_support import CHAT, clean_otel_env, config_for, post, traced_gateway

from plugins.tracing.answers import Answer
from plugins.tracing.content import Redaction, input_attributes, output_attribute


def sse(*events: dict, done: bool = False) -> bytes:
    out = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return out + (b"data: [DONE]\n\n" if done else b"")


def fed(api: str, data: bytes, *, stream: bool, text: int = 0, pieces: int = 7) -> Answer:
    answer = Answer(api, text)
    answer.reset(stream=stream)
    if not stream:
        answer(data)
    for i in range(0, len(data), pieces) if stream else ():       # arbitrary chunk boundaries
        answer(data[i:i + pieces])
    return answer


CHAT_STREAM = sse({"id": "chatcmpl-1", "model": "gpt-4o-2024", "choices": [{"index": 0, "delta": {"content": "Hel"},
                                                                            "finish_reason": None}]},
                  {"id": "chatcmpl-1", "model": "gpt-4o-2024", "choices": [{"index": 0, "delta": {"content": "lo"},
                                                                            "finish_reason": "length"}]},
                  {"id": "chatcmpl-1", "model": "gpt-4o-2024", "choices": [], "usage": {"prompt_tokens": 1}}, done=True)
ANTHROPIC_STREAM = b"".join(b"event: %s\n" % e["type"].encode() + sse(e) for e in (
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "stop_reason": None}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}, {"type": "message_stop"}))
GEMINI_CHUNKS = [{"responseId": "r-1", "modelVersion": "gemini-2.5", "candidates": [
                     {"index": 0, "content": {"parts": [{"text": "A"}]}}]},
                 {"responseId": "r-1", "modelVersion": "gemini-2.5", "candidates": [
                     {"index": 0, "content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"}]}]
RESPONSES_STREAM = sse(
    {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5", "status": "in_progress"}},
    {"type": "response.output_text.delta", "delta": "par"},
    {"type": "response.completed", "response": {"id": "resp_1", "model": "gpt-5", "status": "completed", "output": [
        {"type": "message", "content": [{"type": "output_text", "text": "partial answer"}]}]}})


@pytest.mark.parametrize(("api", "data", "found"), [
    ("openai.chat", CHAT_STREAM, ("chatcmpl-1", "gpt-4o-2024", ["length"], "Hello")),
    ("anthropic.messages", ANTHROPIC_STREAM, ("msg_1", "claude-x", ["end_turn"], "Hi")),
    ("gemini.generate", sse(*GEMINI_CHUNKS), ("r-1", "gemini-2.5", ["STOP"], "AB")),
    ("gemini.generate", ("[" + ",\n".join(json.dumps(c) for c in GEMINI_CHUNKS) + "]").encode(),
     ("r-1", "gemini-2.5", ["STOP"], "AB")),
    ("openai.responses", RESPONSES_STREAM, ("resp_1", "gpt-5", ["completed"], "partial answer")),
])
def test_streams_are_read_in_every_format(api, data, found):
    answer = fed(api, data, stream=True, text=1000)
    assert (answer.id, answer.model, answer.finish_reasons, answer.text_of(0)) == found
    plain = fed(api, data, stream=True)                        # without content: only what spans need
    assert (plain.id, plain.model, plain.finish_reasons, plain.texts) == (*found[:3], {})


@pytest.mark.parametrize(("api", "body", "found"), [
    ("openai.chat", {"id": "c1", "model": "m", "choices": [{"index": 0, "message": {"content": "x"},
                                                            "finish_reason": "stop"},
                                                           {"index": 1, "message": {"content": "y"},
                                                            "finish_reason": "tool_calls"}]},
     ("c1", "m", ["stop", "tool_calls"])),
    ("anthropic.messages", {"type": "message", "id": "msg", "model": "c", "stop_reason": "max_tokens",
                            "content": [{"type": "text", "text": "x"}]}, ("msg", "c", ["max_tokens"])),
    ("openai.responses", {"id": "r", "model": "g", "status": "incomplete",
                          "incomplete_details": {"reason": "max_output_tokens"}}, ("r", "g", ["max_output_tokens"])),
    ("openai.embeddings", {"model": "e", "data": []}, ("", "e", [])),
])
def test_whole_answers_are_read(api, body, found):
    answer = fed(api, json.dumps(body).encode(), stream=False)
    assert (answer.id, answer.model, answer.finish_reasons) == found


def test_anything_unreadable_is_ignored():
    answer = fed("openai.chat", b"data: {not json}\n\ndata: [DONE]\n\n", stream=True)
    assert (answer.id, answer.finish_reasons) == ("", [])
    assert fed("openai.chat", b"<html>", stream=False).id == ""


def test_input_messages_in_the_conventions_shape_with_redaction():
    body = {"system": "Be brief.", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "my key is sk-secret123"},
                                     {"type": "image", "source": {"data": "AAAA"}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ls", "input": {"p": "/"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a b"}]}]}
    redact = type("R", (), {"json_paths": [], "patterns": [r"sk-[a-z0-9]+"]})()
    found = input_attributes("anthropic.messages", body, Redaction(redact, 10_000))
    assert json.loads(found["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(found["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "my key is [REDACTED]"}, {"type": "image"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "t1", "name": "ls", "arguments": {"p": "/"}}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "t1", "response": "a b"}]}]
    assert "AAAA" not in found["gen_ai.input.messages"]                       # never image bytes


def test_json_paths_redact_and_the_cap_keeps_the_json_whole():
    body = {"messages": [{"role": "user", "content": "x" * 5000}, {"role": "user", "content": "keep"}],
            "user": "alice"}
    redact = type("R", (), {"json_paths": ["$.messages[1].content"], "patterns": []})()
    found = json.loads(input_attributes("openai.chat", body, Redaction(redact, 600))["gen_ai.input.messages"])
    assert found[1]["parts"][0]["content"] == "[REDACTED]"
    assert len(found[0]["parts"][0]["content"]) < 600 and found[0]["parts"][0]["content"].endswith("…")
    out = json.loads(output_attribute({0: "y" * 3000}, {0: "stop"}, Redaction(None, 500))["gen_ai.output.messages"])
    assert out[0]["finish_reason"] == "stop" and out[0]["role"] == "assistant"


@pytest_asyncio.fixture
async def receiver(monkeypatch):
    clean_otel_env(monkeypatch)
    r = await OtlpReceiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def test_content_is_captured_only_when_asked_and_redacted_like_payloads(fake_openai, receiver, tmp_path):
    fake_openai.script(Behavior(text="Your token is tok-12345."), Behavior(text="Your token is tok-12345.", chunks=3))
    body = {**CHAT, "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "tok-999 here"}]}
    config = config_for(fake_openai.base_url, payload_logging={"redact": {"patterns": [r"tok-\d+"]}})
    async with traced_gateway(tmp_path, config, {"endpoint": receiver.url, "capture_content": True}) as gw:
        assert (await post(gw, "/v1/chat/completions", body))[0] == 200
        assert (await post(gw, "/v1/chat/completions", {**body, "stream": True}))[0] == 200
    for server in receiver.servers():
        [attempt] = receiver.children_of(server)
        assert json.loads(attempt.attributes["gen_ai.input.messages"]) == [
            {"role": "system", "parts": [{"type": "text", "content": "sys"}]},
            {"role": "user", "parts": [{"type": "text", "content": "[REDACTED] here"}]}]
        assert json.loads(attempt.attributes["gen_ai.output.messages"]) == [
            {"role": "assistant", "parts": [{"type": "text", "content": "Your token is [REDACTED]."}],
             "finish_reason": "stop"}]
    assert len(receiver.servers()) == 2


async def test_no_content_by_default(fake_openai, receiver, tmp_path):
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system")) for s in receiver.spans
                   for k in s.attributes)
