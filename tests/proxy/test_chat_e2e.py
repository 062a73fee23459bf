"""Unified chat completions end to end: the official openai SDK -> gateway -> fake OpenAI upstream."""

from __future__ import annotations

import asyncio

import openai
import pytest
from support.behavior import Behavior, ToolCall, Usage
from support.gateway import TEST_KEY, metric_value, openai_config, run_gateway, settings_for
from support.specs import validate_openai, validate_openai_chat_stream

MESSAGES = [
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hello! How can I assist you today?"},
    {"role": "user", "content": "What is Relaygate?"},
]


@pytest.fixture
async def gw(fake_openai, tmp_path):
    settings = settings_for(openai_config(fake_openai.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def sync_client(gw, prefix: str = "/mlflow/v1", key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + prefix, api_key=key, max_retries=0)


async def test_sync_sdk_chat_completion_is_answered_metered_and_counted(gw, fake_openai):
    fake_openai.script(Behavior(text="Relaygate is a gateway.", usage=Usage(input_tokens=21, output_tokens=6)))
    client = sync_client(gw)
    raw = await asyncio.to_thread(client.chat.completions.with_raw_response.create,
                                  model="chat", messages=MESSAGES, max_tokens=256)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Relaygate is a gateway."
    assert completion.usage.prompt_tokens == 21 and completion.usage.completion_tokens == 6
    request_id = raw.headers["x-request-id"]
    assert raw.headers["x-relaygate-served-model"] == "gpt"
    validate_openai("CreateChatCompletionResponse", completion.model_dump(mode="json", exclude_unset=True))

    upstream = fake_openai.last
    assert upstream.body["model"] == "gpt-4o-mini"          # endpoint name mapped to the provider's model
    assert upstream.bearer == "sk-upstream-secret"           # our credential, never the client's
    assert TEST_KEY not in str(dict(upstream.headers))

    rows = await gw.ledger_rows()
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == request_id
    assert (row["owner"], row["team"], row["key_id"]) == ("alice", "ml", "alice-key")
    assert (row["endpoint"], row["served_model"], row["provider"], row["provider_model"]) == \
        ("chat", "gpt", "openai", "gpt-4o-mini")
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (21, 6, 27)
    assert row["status"] == 200 and row["stream"] == 0
    assert row["cost_usd"] == pytest.approx((21 * 1.0 + 6 * 2.0) / 1e6)
    assert TEST_KEY not in str(row)

    text = await gw.metrics()
    labels = {"endpoint": "chat", "served_model": "gpt", "provider": "openai"}
    assert metric_value(text, "relaygate_requests_total", status="200", **labels) == 1
    assert metric_value(text, "relaygate_tokens_total", type="input", **labels) == 21
    assert metric_value(text, "relaygate_tokens_total", type="output", **labels) == 6
    assert metric_value(text, "relaygate_request_duration_seconds_count", **labels) == 1
    assert metric_value(text, "relaygate_time_to_first_token_seconds_count", **labels) == 1
    assert TEST_KEY not in text and "alice" not in text


async def test_async_sdk_stream_passes_chunks_and_meters_usage(gw, fake_openai):
    fake_openai.script(Behavior(chunks=5, usage=Usage(input_tokens=9, output_tokens=5, reasoning_tokens=2)))
    client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=TEST_KEY, max_retries=0)
    stream = await client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text                                          # the deltas arrived
    # The client did not ask for usage: no usage-only chunk reaches it ...
    assert all(c.choices for c in chunks)
    # ... but the gateway asked upstream, so the stream is metered anyway.
    assert fake_openai.last.body["stream_options"] == {"include_usage": True}
    rows = await gw.ledger_rows()
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"], rows[0]["reasoning_tokens"]) == (9, 5, 2)
    assert rows[0]["stream"] == 1 and rows[0]["ttft_ms"] is not None


async def test_stream_with_include_usage_delivers_usage_chunk_and_valid_events(gw, fake_openai):
    fake_openai.script(Behavior(chunks=3, usage=Usage(input_tokens=4, output_tokens=3)))
    client = sync_client(gw, "/serving-endpoints")

    def run() -> list:
        with client.chat.completions.with_streaming_response.create(
                model="chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}) as resp:
            return [resp.headers["content-type"], resp.read().decode()]

    content_type, body = await asyncio.to_thread(run)
    assert content_type.startswith("text/event-stream")
    events = validate_openai_chat_stream(body)
    assert body.rstrip().endswith("data: [DONE]")
    usage_chunks = [e for e in events if e.get("usage")]
    assert usage_chunks and usage_chunks[-1]["usage"]["prompt_tokens"] == 4
    assert usage_chunks[-1]["choices"] == []


async def test_tool_calls_stream_through_unchanged(gw, fake_openai):
    fake_openai.script(Behavior(tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="call_1")]))
    client = sync_client(gw)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    completion = await asyncio.to_thread(client.chat.completions.create, model="chat", messages=MESSAGES,
                                         tools=tools)
    call = completion.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_1", "get_weather", '{"city":"Oslo"}')
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_bad_key_gets_401_in_openai_shape(gw, fake_openai):
    client = sync_client(gw, key="wrong-key")
    with pytest.raises(openai.AuthenticationError) as info:
        await asyncio.to_thread(client.chat.completions.create, model="chat", messages=MESSAGES)
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error"
    assert fake_openai.requests == []
    assert await gw.ledger_rows() == []                  # nothing reached a provider
    assert metric_value(await gw.metrics(), "relaygate_requests_total", status="401") == 1


async def test_temperature_out_of_range_names_the_param(gw, fake_openai):
    client = sync_client(gw)
    with pytest.raises(openai.BadRequestError) as info:
        await asyncio.to_thread(client.chat.completions.create, model="chat", messages=MESSAGES, temperature=5)
    assert info.value.status_code == 400
    assert info.value.body["param"] == "temperature"
    validate_openai("ErrorResponse", {"error": info.value.body})
    assert fake_openai.requests == []


async def test_unknown_endpoint_is_404_in_openai_shape(gw):
    client = sync_client(gw)
    with pytest.raises(openai.NotFoundError) as info:
        await asyncio.to_thread(client.chat.completions.create, model="nope", messages=MESSAGES)
    assert "nope" in info.value.body["message"]
    assert info.value.body["param"] == "model"


async def test_models_list_shows_endpoints(gw):
    client = sync_client(gw, "/v1")
    models = await asyncio.to_thread(client.models.list)
    assert [m.id for m in models.data] == ["chat"]


async def test_upstream_error_is_relayed_and_recorded(gw, fake_openai):
    # A Retry-After longer than retry.retry_after_max_seconds is not waited for: relayed as is.
    fake_openai.script(Behavior(status=429, retry_after=120))
    client = sync_client(gw)
    with pytest.raises(openai.RateLimitError) as info:
        await asyncio.to_thread(client.chat.completions.create, model="chat", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "120"
    rows = await gw.ledger_rows()
    assert rows[0]["status"] == 429 and rows[0]["error"] == "429"
    text = await gw.metrics()
    assert metric_value(text, "relaygate_upstream_errors_total", reason="429") == 1


async def test_upstream_rejecting_our_credentials_never_leaks_its_message(gw, fake_openai):
    fake_openai.script(Behavior(status=401, error_message="Incorrect API key provided: sk-upst***cret"))
    client = sync_client(gw)
    with pytest.raises(openai.InternalServerError) as info:
        await asyncio.to_thread(client.chat.completions.create, model="chat", messages=MESSAGES)
    assert info.value.status_code == 502
    assert "sk-upst" not in info.value.response.text


async def test_broken_upstream_stream_ends_with_an_error_event(gw, fake_openai):
    fake_openai.script(Behavior(chunks=6, break_after=2))
    client = sync_client(gw)

    def run() -> str:
        with client.chat.completions.with_streaming_response.create(
                model="chat", messages=MESSAGES, stream=True) as resp:
            return resp.read().decode()

    body = await asyncio.to_thread(run)
    assert '"error"' in body.splitlines()[-2] or '"error"' in body.strip().splitlines()[-1]
    rows = await gw.ledger_rows()
    assert rows[0]["status"] == 502 and rows[0]["error"] == "protocol"


async def test_unreachable_upstream_is_502_and_still_recorded(tmp_path):
    settings = settings_for(openai_config("http://127.0.0.1:9/v1"), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        client = sync_client(gw)
        with pytest.raises(openai.InternalServerError) as info:
            await asyncio.to_thread(client.chat.completions.create, model="chat", messages=MESSAGES)
        assert info.value.status_code == 502
        rows = await gw.ledger_rows()
        assert rows[0]["status"] == 502 and rows[0]["error"] == "connect"
