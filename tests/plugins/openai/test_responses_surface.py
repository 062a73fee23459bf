"""The native Responses surface end to end: openai SDK -> gateway -> fake OpenAI upstream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import openai
import pytest
from openai_gateway_config import all_tasks_config
from plugins.openai.responses_meter import ResponsesStreamMeter
from support.behavior import Behavior, ToolCall, Usage
from support.captures import CAPTURES
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for
from support.specs import parse_sse, validate_openai, validate_responses_stream, validate_union

INPUT = [
    {"role": "user", "content": [{"type": "input_text", "text": "Hello!"}]},
    {"role": "assistant", "content": [{"type": "output_text", "text": "Hello! How can I assist you today?"}]},
    {"role": "user", "content": [{"type": "input_text", "text": "What is Relaygate?"}]},
]
REASONING_USAGE = Usage(input_tokens=30, output_tokens=12, reasoning_tokens=5, cached_tokens=7)
CODEX_CAPTURES = CAPTURES / "codex.jsonl"


@pytest.fixture
async def gw(fake_openai, tmp_path):
    settings = settings_for(all_tasks_config(fake_openai.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def client(gw, key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/openai/v1", api_key=key, max_retries=0)


async def post(gw, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    hdrs = {"Authorization": f"Bearer {TEST_KEY}", **(headers or {})}
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body, headers=hdrs) as r:
        return r.status, dict(r.headers), await r.read()


async def test_create_returns_the_response_and_meters_reasoning_tokens(gw, fake_openai):
    fake_openai.script(Behavior(text="Relaygate is a gateway.", reasoning="Think.", usage=REASONING_USAGE))
    raw = await asyncio.to_thread(client(gw).responses.with_raw_response.create,
                                  model="gpt-5.5", input=INPUT, max_output_tokens=256, store=False)
    response = raw.parse()
    assert response.output_text == "Relaygate is a gateway."
    assert response.usage.output_tokens_details.reasoning_tokens == 5
    validate_openai("Response", json.loads(raw.content))
    assert fake_openai.last.path.endswith("/responses")
    assert fake_openai.last.body == {"model": "gpt-5.5-2026-01-01", "input": INPUT, "max_output_tokens": 256,
                                     "store": False}
    rows = await gw.ledger_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row["surface"], row["endpoint"], row["provider_model"]) == ("openai", "gpt-5.5", "gpt-5.5-2026-01-01")
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"], row["cached_input_tokens"],
            row["total_tokens"]) == (30, 12, 5, 7, 42)
    text = await gw.metrics()
    labels = {"endpoint": "gpt-5.5", "served_model": "gpt55", "provider": "openai"}
    assert metric_value(text, "relaygate_tokens_total", type="reasoning", **labels) == 5
    assert metric_value(text, "relaygate_tokens_total", type="cached_input", **labels) == 7
    assert metric_value(text, "relaygate_requests_total", status="200", surface="openai", **labels) == 1


async def test_stream_helper_gets_final_response_and_stream_is_metered(gw, fake_openai):
    fake_openai.script(Behavior(text="Streamed answer.", reasoning="Hmm.", chunks=4, usage=REASONING_USAGE))

    def run():
        with client(gw).responses.stream(model="gpt-5.5", input="Hi", store=False,
                                         include=["reasoning.encrypted_content"]) as stream:
            kinds = [event.type for event in stream]
            return kinds, stream.get_final_response()

    kinds, final = await asyncio.to_thread(run)
    assert final.output_text == "Streamed answer."
    assert final.usage.input_tokens == 30 and final.usage.output_tokens_details.reasoning_tokens == 5
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 4
    assert fake_openai.last.body["include"] == ["reasoning.encrypted_content"]
    rows = await gw.ledger_rows()
    assert (rows[0]["stream"], rows[0]["input_tokens"], rows[0]["output_tokens"], rows[0]["reasoning_tokens"],
            rows[0]["cached_input_tokens"]) == (1, 30, 12, 5, 7)
    text = await gw.metrics()
    assert metric_value(text, "relaygate_tokens_total", type="reasoning", endpoint="gpt-5.5") == 5


async def test_stream_passes_every_event_with_its_event_line(gw, fake_openai):
    fake_openai.script(Behavior(reasoning="Plan.", tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]))
    status, headers, body = await post(gw, "/openai/v1/responses",
                                       {"model": "gpt-5.5", "input": "weather?", "stream": True, "store": False})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert "Content-Encoding" not in headers
    events = validate_responses_stream(body)        # every event against the SDK's models, with `event:` lines
    types = [e["type"] for e in events]
    assert types.count("response.output_item.done") == 2
    assert "response.function_call_arguments.done" in types
    assert events[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


@pytest.mark.parametrize("line", range(2))
async def test_codex_requests_reach_upstream_unchanged_but_for_model(gw, fake_openai, line):
    capture = json.loads(CODEX_CAPTURES.read_text().splitlines()[line])
    sent = capture["body"]
    tool_types = {t["type"] for t in sent["tools"]}
    assert {"custom", "web_search", "tool_search", "function"} <= tool_types
    headers = {k: v for k, v in capture["headers"] if k.lower() in
               ("accept", "originator", "session-id", "thread-id", "x-client-request-id")}
    fake_openai.script(Behavior(reasoning="ok", tool_calls=[ToolCall("exec_command", {"cmd": "echo hi"})]))
    status, _, body = await post(gw, "/openai/v1/responses", sent, headers)
    assert status == 200, body
    assert fake_openai.last.body == {**sent, "model": "gpt-5.5-2026-01-01"}
    assert fake_openai.last.bearer == "sk-upstream-secret"
    events = validate_responses_stream(body)
    done = [e["item"]["type"] for e in events if e["type"] == "response.output_item.done"]
    assert done == ["reasoning", "function_call"]
    if line == 1:                                     # the replayed turn keeps encrypted reasoning
        reasoning = next(i for i in fake_openai.last.body["input"] if i["type"] == "reasoning")
        assert reasoning["encrypted_content"] and reasoning["content"] is None


@pytest.mark.parametrize(("field", "value"), [("background", True), ("conversation", "conv_123"),
                                              ("service_tier", "priority")])
async def test_stateful_fields_are_refused_naming_the_field(gw, fake_openai, field, value):
    with pytest.raises(openai.BadRequestError) as info:
        await asyncio.to_thread(client(gw).responses.create, model="gpt-5.5", input="Hi", **{field: value})
    assert info.value.status_code == 400
    assert info.value.body["param"] == field
    validate_openai("ErrorResponse", {"error": info.value.body})
    assert fake_openai.requests == []


@pytest.mark.parametrize(("extra", "param"), [
    ({"temperature": 2.5}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"presence_penalty": 2.5}, "presence_penalty"),
    ({"store": "yes"}, "store"),
    ({"input": [{"type": "compaction"}]}, "input[0].encrypted_content"),
    ({"max_output_tokens": 0}, "max_output_tokens"),
    ({"top_logprobs": 21}, "top_logprobs"),
    ({"input": 7}, "input"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
    ({"input": [{"type": "function_call_output", "call_id": "c1"}]}, "input[0].output"),
    ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text"),
    ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, "input[0].content[0].image_url"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "filename": "a.pdf"}]}]},
     "input[0].content[0].file_data"),
    ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
    ({"tools": [{"type": "function", "parameters": {}}]}, "tools[0].name"),
    ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
    ({"reasoning": {"effort": "extreme"}}, "effort"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
])
async def test_invalid_fields_get_400_with_param(gw, fake_openai, extra, param):
    status, _, body = await post(gw, "/openai/v1/responses", {"model": "gpt-5.5", "input": "Hi", **extra})
    assert status == 400, body
    error = validate_openai("ErrorResponse", json.loads(body))["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert fake_openai.requests == []


async def test_items_and_unknown_fields_pass_through(gw, fake_openai):
    body = {"model": "gpt-5.5", "store": False, "client_metadata": {"a": "b"}, "prompt_cache_key": "s1",
            "text": {"verbosity": "low"}, "include": ["reasoning.encrypted_content"], "future_field": [1],
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
                {"role": "user", "content": [
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "enc", "content": None},
                {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": {"x": 1}},
                {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "ok"}]},
                {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin"},
                {"type": "item_reference", "id": "msg_9"}],
            "tools": [{"type": "namespace", "name": "multi_agent_v1", "tools": []},
                      {"type": "mcp", "server_label": "x"}],
            "stream_options": {"include_obfuscation": False}, "stream": True}
    fake_openai.script(Behavior(text="ok"))
    status, _, _ = await post(gw, "/openai/v1/responses", body)
    assert status == 200
    # the reference's object arguments reach OpenAI as the JSON string OpenAI takes; the rest as sent
    sent_input = [dict(i) for i in body["input"]]
    sent_input[3]["arguments"] = '{"x":1}'
    assert fake_openai.last.body == {**body, "input": sent_input, "model": "gpt-5.5-2026-01-01"}


async def test_reference_include_usage_is_not_sent_to_openai(gw, fake_openai):
    fake_openai.script(Behavior(usage=Usage(input_tokens=3, output_tokens=2)))
    status, _, body = await post(gw, "/openai/v1/responses", {"model": "gpt-5.5", "input": "Hi", "stream": True,
                                                              "stream_options": {"include_usage": True}})
    assert status == 200
    assert "stream_options" not in fake_openai.last.body      # usage always arrives in response.completed
    assert validate_responses_stream(body)[-1]["response"]["usage"]["input_tokens"] == 3
    assert (await gw.ledger_rows())[0]["input_tokens"] == 3


async def test_broken_stream_ends_with_a_numbered_error_event(gw, fake_openai):
    fake_openai.script(Behavior(chunks=6, break_after=5))
    status, _, body = await post(gw, "/openai/v1/responses", {"model": "gpt-5.5", "input": "Hi", "stream": True})
    assert status == 200
    events = parse_sse(body)
    (name, data), (last, final) = events[-2:]
    error = json.loads(data)
    assert name == "error" and error["type"] == "error" and error["message"]
    assert error["sequence_number"] == 5                # the five relayed events were numbered 0..4
    # then the one terminal event a stream needs, on the snapshot response.created gave
    assert last == "response.failed" and json.loads(final)["sequence_number"] == 6
    assert json.loads(final)["response"]["id"] == json.loads(events[0][1])["response"]["id"]
    for _, d in events:
        validate_union("openai", "ResponseStreamEvent", json.loads(d))
    rows = await gw.ledger_rows()
    assert rows[0]["error"] == "protocol" and rows[0]["status"] == 502


def test_a_stream_that_already_ended_gets_no_second_terminal_event():
    meter = ResponsesStreamMeter()
    meter.feed(b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1"},'
               b'"sequence_number":0}\n\n')
    assert b"response.failed" in meter.fail({"message": "cut", "type": "server_error"})
    meter = ResponsesStreamMeter()
    meter.feed(b'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp_1","usage":null},'
               b'"sequence_number":3}\n\n')
    assert meter.fail({"message": "cut", "type": "server_error"}) == b""


async def test_auth_unknown_endpoint_and_unknown_path_answer_in_openai_shape(gw, fake_openai):
    with pytest.raises(openai.AuthenticationError) as auth:
        await asyncio.to_thread(client(gw, key="nope").responses.create, model="gpt-5.5", input="Hi")
    assert auth.value.body["type"] == "authentication_error"
    with pytest.raises(openai.NotFoundError) as missing:
        await asyncio.to_thread(client(gw).responses.create, model="nope", input="Hi")
    assert missing.value.body["param"] == "model" and "nope" in missing.value.body["message"]
    status, _, body = await post(gw, "/openai/v1/assistants", {})
    assert status == 404
    validate_openai("ErrorResponse", json.loads(body))
    assert fake_openai.requests == []


@pytest.mark.parametrize("status", [429, 500])
async def test_upstream_errors_are_relayed_in_openai_shape(gw, fake_openai, status):
    fake_openai.script(Behavior(status=status, retry_after=3))
    code, headers, body = await post(gw, "/openai/v1/responses", {"model": "gpt-5.5", "input": "Hi"})
    assert code == status
    validate_openai("ErrorResponse", json.loads(body))
    if status == 429:
        assert headers["Retry-After"] == "3"
    rows = await gw.ledger_rows()
    assert rows[0]["status"] == status


async def test_models_and_native_chat_use_openai_rules(gw, fake_openai):
    models = await asyncio.to_thread(client(gw).models.list)
    assert "gpt-5.5" in [m.id for m in models.data]
    messages = [{"role": "user", "content": "Hi"}, {"role": "system", "content": "late system"}]
    fake_openai.script(Behavior(text="ok"))
    completion = await asyncio.to_thread(client(gw).chat.completions.create, model="chat", messages=messages)
    validate_openai("CreateChatCompletionResponse", completion.model_dump(mode="json", exclude_unset=True))
    # The unified surface applies the reference's rule: system only once, first.
    unified = openai.OpenAI(base_url=gw.url + "/mlflow/v1", api_key=TEST_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        await asyncio.to_thread(unified.chat.completions.create, model="chat", messages=messages)
    assert info.value.body["param"] == "messages[1].role"
    rows = await gw.ledger_rows()
    assert [r["surface"] for r in rows] == ["openai"]


def test_codex_capture_file_is_there():
    assert Path(CODEX_CAPTURES).exists()


async def test_stream_events_reach_the_client_while_upstream_is_still_sending(gw, fake_openai):
    # The fake sends two events and then stalls: they can only arrive if nothing buffers.
    fake_openai.script(Behavior(stall="stream", stall_after=2))
    hdrs = {"Authorization": f"Bearer {TEST_KEY}"}
    async with aiohttp.ClientSession() as s, s.post(gw.url + "/openai/v1/responses", headers=hdrs, json={
            "model": "gpt-5.5", "input": "Hi", "stream": True}) as r:
        received = b""
        while b"response.in_progress" not in received:
            received += await asyncio.wait_for(r.content.readany(), timeout=10)
    names = [name for name, _ in parse_sse(received.rsplit(b"\n\n", 1)[0])]
    assert names[:2] == ["response.created", "response.in_progress"]
    await fake_openai.wait_for_disconnect()
