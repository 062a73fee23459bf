"""The native Anthropic surface end to end: official anthropic SDK / curl / raw HTTP -> gateway -> fake Anthropic."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import anthropic
import pytest
from anthropic._client import ANTHROPIC_API_VERSION
from support.behavior import Behavior, ToolCall, Usage
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for
from support.snippets import run_python, run_shell
from support.specs import parse_sse, validate_anthropic, validate_anthropic_stream

from proxy.zeroconf import settings_from_env

UPSTREAM_KEY = "sk-ant-upstream-secret"
MESSAGES = [
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hello! How can I assist you today?"},
    {"role": "user", "content": "What is Databricks?"},
]


def anthropic_config(base_url: str) -> dict:
    return {
        "providers": {"anthropic": {"type": "anthropic", "base_url": base_url, "api_key": UPSTREAM_KEY}},
        "endpoints": {
            "claude": {"task": "chat", "served_models": [
                {"name": "sonnet", "provider": "anthropic", "model": "claude-sonnet-4-6",
                 "prices": {"input": 3.0, "output": 15.0, "cached_input": 0.3, "cache_creation": 3.75}}]},
            "claude-secret": {"task": "chat", "served_models": [
                {"name": "opus", "provider": "anthropic", "model": "claude-opus-4-8"}]},
        },
        "keys": [{"name": "alice-key", "key": TEST_KEY, "owner": "alice", "team": "ml"},
                 {"name": "narrow", "key": "rg-narrow-key-000000", "owner": "bob", "endpoints": ["claude"]}],
    }


@pytest.fixture
async def gw(fake_anthropic, tmp_path):
    settings = settings_for(anthropic_config(fake_anthropic.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def reference_client(gw, token: str = TEST_KEY) -> anthropic.Anthropic:
    """The client as a user builds it (PYTHON_SNIPPET): the gateway key as a bearer token."""
    return anthropic.Anthropic(api_key="unused", base_url=gw.url + "/anthropic",
                               default_headers={"Authorization": f"Bearer {token}"}, max_retries=0)


def async_client(gw, token: str = TEST_KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="unused", base_url=gw.url + "/anthropic",
                                    default_headers={"Authorization": f"Bearer {token}"}, max_retries=0)


async def post(gw, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict, bytes]:
    hdrs = {"x-api-key": TEST_KEY, "anthropic-version": "2023-06-01", **(headers or {})}
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.post(gw.url + path, json=body,
                                                                           headers=hdrs) as r:
        return r.status, dict(r.headers), await r.read()


# ------------------------------------------------------------------ SDK, curl, snippets


async def test_sdk_create_is_answered_metered_and_counted(gw, fake_anthropic):
    fake_anthropic.script(Behavior(text="Databricks is a data platform.",
                                   usage=Usage(input_tokens=30, output_tokens=7, cached_tokens=10,
                                               cache_creation_tokens=5)))
    client = reference_client(gw)
    raw = await asyncio.to_thread(client.messages.with_raw_response.create, model="claude", max_tokens=256,
                                  messages=MESSAGES)
    message = raw.parse()
    assert message.content[0].text == "Databricks is a data platform."
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.cache_creation_input_tokens, message.usage.output_tokens) == (30, 10, 5, 7)
    validate_anthropic("Message", json.loads(raw.http_response.text))

    upstream = fake_anthropic.last
    assert upstream.path == "/v1/messages"
    assert upstream.body["model"] == "claude-sonnet-4-6"
    assert upstream.headers["x-api-key"] == UPSTREAM_KEY
    assert upstream.bearer is None                                   # the client's token stays here
    assert TEST_KEY not in str(dict(upstream.headers))
    assert upstream.headers["anthropic-version"] == ANTHROPIC_API_VERSION     # the SDK's own, forwarded

    rows = await gw.ledger_rows()
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == raw.headers["x-request-id"]
    assert (row["surface"], row["endpoint"], row["served_model"], row["provider"], row["provider_model"]) == \
        ("anthropic", "claude", "sonnet", "anthropic", "claude-sonnet-4-6")
    # input counts cache reads (their cached part); cache writes are counted on their own
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_creation_tokens"],
            row["output_tokens"], row["total_tokens"]) == (40, 10, 5, 7, 52)
    assert row["cost_usd"] == pytest.approx((30 * 3.0 + 10 * 0.3 + 5 * 3.75 + 7 * 15.0) / 1e6)
    assert row["owner"] == "alice" and row["status"] == 200 and row["stream"] == 0

    text = await gw.metrics()
    labels = {"endpoint": "claude", "served_model": "sonnet", "provider": "anthropic"}
    assert metric_value(text, "relaygate_requests_total", status="200", **labels) == 1
    assert metric_value(text, "relaygate_tokens_total", type="input", **labels) == 40
    assert metric_value(text, "relaygate_tokens_total", type="cached_input", **labels) == 10
    assert metric_value(text, "relaygate_tokens_total", type="cache_creation", **labels) == 5
    assert metric_value(text, "relaygate_tokens_total", type="output", **labels) == 7


#: what a user writes to call the gateway's Anthropic surface with the anthropic SDK: the gateway
#: key travels as a bearer token, the SDK's own key is a placeholder
PYTHON_SNIPPET = """
import os

import anthropic

client = anthropic.Anthropic(
    api_key="placeholder",
    base_url=os.environ["RELAYGATE_URL"] + "/anthropic",
    default_headers={"Authorization": "Bearer " + os.environ["RELAYGATE_TOKEN"]},
)
reply = client.messages.create(
    model="claude",
    max_tokens=120,
    messages=[
        {"role": "user", "content": "Pick a colour."},
        {"role": "assistant", "content": "Teal."},
        {"role": "user", "content": "Why that one?"},
    ],
)
print(reply.content[0].text)
"""

#: the same call with curl and basic auth (user name ``token``, password the gateway key)
CURL_SNIPPET = """
curl -sS -u "token:$RELAYGATE_TOKEN" -X POST \\
  -H "Content-Type: application/json" \\
  -d '{"model": "claude", "max_tokens": 120,
       "messages": [{"role": "user", "content": "Pick a colour."},
                    {"role": "assistant", "content": "Teal."},
                    {"role": "user", "content": "Why that one?"}]}' \\
  "$RELAYGATE_URL/anthropic/v1/messages"
"""


async def test_python_and_curl_snippets_run(gw, fake_anthropic):
    fake_anthropic.script(Behavior(text="It is calm."))
    ran = await run_python(PYTHON_SNIPPET, gw.url, TEST_KEY)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "It is calm.\n"
    assert fake_anthropic.last.body["max_tokens"] == 120
    fake_anthropic.script(Behavior(text="From curl."))
    ran = await run_shell(CURL_SNIPPET, gw.url, TEST_KEY)
    assert ran.returncode == 0, ran.stderr
    assert validate_anthropic("Message", json.loads(ran.stdout))["content"][0]["text"] == "From curl."
    # curl sends no anthropic-version: the gateway supplies the stable default.
    assert fake_anthropic.last.headers["anthropic-version"] == "2023-06-01"
    assert fake_anthropic.last.body["messages"][1] == {"role": "assistant", "content": "Teal."}
    assert [r.body["model"] for r in fake_anthropic.requests] == ["claude-sonnet-4-6"] * 2


# ------------------------------------------------------------------ streams


async def test_sdk_stream_with_thinking_and_tool_use_blocks_untouched(gw, fake_anthropic):
    fake_anthropic.script(Behavior(reasoning="Let me think about the weather.", text="Checking.",
                                   tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="toolu_01")],
                                   usage=Usage(input_tokens=50, output_tokens=20, cached_tokens=40,
                                               cache_creation_tokens=8)))
    client = async_client(gw)
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    async with client.messages.stream(model="claude", max_tokens=1024, messages=MESSAGES, tools=tools,
                                      thinking={"type": "enabled", "budget_tokens": 512}) as stream:
        final = await stream.get_final_message()
    kinds = [b.type for b in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "Let me think about the weather."
    assert final.content[0].signature                       # signature_delta arrived intact
    assert (final.content[2].id, final.content[2].name, final.content[2].input) == \
        ("toolu_01", "get_weather", {"city": "Oslo"})
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 20
    assert fake_anthropic.last.body["thinking"] == {"type": "enabled", "budget_tokens": 512}

    rows = await gw.ledger_rows()
    assert rows[0]["stream"] == 1 and rows[0]["ttft_ms"] is not None
    assert (rows[0]["input_tokens"], rows[0]["cached_input_tokens"], rows[0]["cache_creation_tokens"],
            rows[0]["output_tokens"]) == (90, 40, 8, 20)


async def test_raw_stream_keeps_event_lines_unbuffered_uncompressed(gw, fake_anthropic):
    fake_anthropic.script(Behavior(chunks=4, reasoning="hmm", usage=Usage(input_tokens=11, output_tokens=9)))
    # Claude Code: Accept: application/json on a streaming call, br/zstd offered, ?beta=true.
    status, headers, data = await post(gw, "/anthropic/v1/messages?beta=true", {
        "model": "claude", "max_tokens": 64, "stream": True, "messages": MESSAGES},
        {"Accept": "application/json", "Accept-Encoding": "gzip, deflate, br, zstd"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert "Content-Encoding" not in headers
    events = validate_anthropic_stream(data)
    assert [e for e, _ in parse_sse(data)] == [e["type"] for e in events]    # every event has its event: line
    assert {"message_start", "ping", "content_block_delta", "message_delta", "message_stop"} <= \
        {e["type"] for e in events}
    assert data.startswith(b"event: message_start\ndata: {")                # the provider's framing
    rows = await gw.ledger_rows()
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"]) == (11, 9)


async def test_native_passthrough_keeps_unknown_fields_system_role_and_betas(gw, fake_anthropic):
    fake_anthropic.script(Behavior(text="ok"))
    body = {
        "model": "claude", "max_tokens": 64000, "stream": False,
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": json.dumps({"device_id": "d", "session_id": "s"})},
        "temperature": None, "tool_choice": None,
        "system": [{"type": "text", "text": "billing header"},
                   {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "Bash", "description": "run", "eager_input_streaming": True,
                   "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                                    "additionalProperties": False}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": None}]},
            {"role": "system", "content": "mid-conversation system message"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "sig"},
                                              {"type": "future_block", "payload": [1, 2]}]},
            {"role": "user", "content": "go on"},
        ],
    }
    betas = "claude-code-20250219,interleaved-thinking-2025-05-14"
    status, _, data = await post(gw, "/anthropic/v1/messages", body,
                                 {"anthropic-version": "2026-10-21", "anthropic-beta": betas})
    assert status == 200, data
    upstream = fake_anthropic.last
    assert upstream.body == {**body, "model": "claude-sonnet-4-6"}          # nothing dropped or changed
    assert upstream.headers["anthropic-version"] == "2026-10-21"           # never pinned
    assert upstream.headers["anthropic-beta"] == betas


async def test_count_tokens(gw, fake_anthropic):
    fake_anthropic.count_tokens_result = 321
    client = async_client(gw)
    result = await client.messages.count_tokens(model="claude", messages=MESSAGES)
    assert result.input_tokens == 321
    assert fake_anthropic.last.path == "/v1/messages/count_tokens"
    assert fake_anthropic.last.body["model"] == "claude-sonnet-4-6"
    rows = await gw.ledger_rows()
    assert rows[0]["endpoint"] == "claude" and rows[0]["input_tokens"] == 0     # counting costs nothing


# ------------------------------------------------------------------ errors in Anthropic's shape


def assert_anthropic_error(body: dict, error_type: str) -> None:
    validate_anthropic("ErrorResponse", body)
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["request_id"]


async def test_bad_key_is_401_authentication_error(gw, fake_anthropic):
    client = reference_client(gw, token="wrong-key")
    with pytest.raises(anthropic.AuthenticationError) as info:
        await asyncio.to_thread(client.messages.create, model="claude", max_tokens=8, messages=MESSAGES)
    assert info.value.status_code == 401
    assert_anthropic_error(info.value.body, "authentication_error")
    assert fake_anthropic.requests == []


async def test_validation_errors_are_400_invalid_request_error(gw, fake_anthropic):
    for body, param in [({"model": "claude", "messages": MESSAGES}, "max_tokens"),
                        ({"model": "claude", "max_tokens": "many", "messages": MESSAGES}, "max_tokens"),
                        ({"model": "claude", "max_tokens": 8, "messages": [{"role": "tool", "content": "x"}]},
                         "messages.0.role"),
                        ({"max_tokens": 8, "messages": MESSAGES}, "model")]:
        status, _, data = await post(gw, "/anthropic/v1/messages", body)
        assert status == 400, body
        err = json.loads(data)
        assert_anthropic_error(err, "invalid_request_error")
        assert param in err["error"]["message"]
    status, _, data = await post(gw, "/anthropic/v1/messages", "not an object")  # type: ignore[arg-type]
    assert status == 400
    assert_anthropic_error(json.loads(data), "invalid_request_error")
    assert fake_anthropic.requests == []


async def test_unknown_endpoint_404_and_scope_403(gw, fake_anthropic):
    client = async_client(gw)
    with pytest.raises(anthropic.NotFoundError) as info:
        await client.messages.create(model="nope", max_tokens=8, messages=MESSAGES)
    assert_anthropic_error(info.value.body, "not_found_error")
    narrow = async_client(gw, token="rg-narrow-key-000000")
    with pytest.raises(anthropic.PermissionDeniedError) as info2:
        await narrow.messages.create(model="claude-secret", max_tokens=8, messages=MESSAGES)
    assert_anthropic_error(info2.value.body, "permission_error")
    assert fake_anthropic.requests == []


async def test_upstream_529_overloaded_is_passed_through(gw, fake_anthropic):
    fake_anthropic.always(Behavior(status=529))           # the gateway may retry: every attempt fails
    client = async_client(gw)
    with pytest.raises(anthropic.APIStatusError) as info:
        await client.messages.create(model="claude", max_tokens=8, messages=MESSAGES)
    assert info.value.status_code == 529
    assert_anthropic_error(info.value.body, "overloaded_error")
    rows = await gw.ledger_rows()
    assert rows[-1]["status"] == 529 and rows[-1]["error"] == "529"
    assert metric_value(await gw.metrics(), "relaygate_upstream_errors_total", reason="529") >= 1


async def test_upstream_rejecting_our_key_becomes_502_api_error(gw, fake_anthropic):
    fake_anthropic.script(Behavior(status=401, error_message="invalid x-api-key sk-ant-upstr..."))
    status, _, data = await post(gw, "/anthropic/v1/messages", {"model": "claude", "max_tokens": 8,
                                                                 "messages": MESSAGES})
    assert status == 502
    assert_anthropic_error(json.loads(data), "api_error")
    assert b"sk-ant" not in data


async def test_mid_stream_failures_end_with_an_anthropic_error_event(gw, fake_anthropic):
    # The provider's own error event passes through ...
    fake_anthropic.script(Behavior(chunks=4, stream_error_after=3))
    status, _, data = await post(gw, "/anthropic/v1/messages", {"model": "claude", "max_tokens": 8,
                                                                 "stream": True, "messages": MESSAGES})
    events = validate_anthropic_stream(data)
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "overloaded_error"
    # ... and a broken connection gets the gateway's error event in the same shape.
    fake_anthropic.script(Behavior(chunks=6, break_after=3))
    status, _, data = await post(gw, "/anthropic/v1/messages", {"model": "claude", "max_tokens": 8,
                                                                 "stream": True, "messages": MESSAGES})
    assert status == 200
    events = validate_anthropic_stream(data)
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    rows = await gw.ledger_rows()
    assert rows[-1]["error"] == "protocol"


# ------------------------------------------------------------------ models, probe, zero-config


async def test_models_list_in_anthropic_shape(gw):
    client = async_client(gw)
    page = await client.models.list()
    assert [m.id for m in page.data] == ["claude", "claude-secret"]
    async with aiohttp.ClientSession() as s, s.get(gw.url + "/anthropic/v1/models",
                                                   headers={"x-api-key": TEST_KEY}) as r:
        body = await r.json()
    validate_anthropic("ListResponse_ModelInfo_", body)
    assert (body["first_id"], body["last_id"], body["has_more"]) == ("claude", "claude-secret", False)
    model = await client.models.retrieve("claude")
    assert model.id == "claude"
    with pytest.raises(anthropic.NotFoundError):
        await client.models.retrieve("nope")


async def test_probe_answers_without_auth_and_unknown_paths_are_404(gw):
    async with aiohttp.ClientSession() as s:
        async with s.head(gw.url + "/anthropic") as r:
            assert r.status == 200
        async with s.get(gw.url + "/anthropic") as r:
            assert r.status == 200
        async with s.post(gw.url + "/anthropic/v1/complete", json={}, headers={"x-api-key": TEST_KEY}) as r:
            assert r.status == 404
            assert_anthropic_error(await r.json(), "not_found_error")


async def test_zero_config_endpoint_anthropic_slash_model(fake_anthropic, tmp_path):
    settings = settings_from_env({"ANTHROPIC_API_KEY": UPSTREAM_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
                                  "RELAYGATE_API_KEYS": TEST_KEY,
                                  "RELAYGATE_LEDGER_PATH": str(tmp_path / "zc.db")})
    fake_anthropic.script(Behavior(text="zero config"))
    async with run_gateway(settings) as gw:
        client = async_client(gw)
        message = await client.messages.create(model="anthropic/claude-haiku-4-5", max_tokens=8,
                                               messages=MESSAGES)
        assert message.content[0].text == "zero config"
        assert fake_anthropic.last.body["model"] == "claude-haiku-4-5"
        assert fake_anthropic.last.headers["x-api-key"] == UPSTREAM_KEY
        token = base64.b64encode(f"token:{TEST_KEY}".encode()).decode()
        async with aiohttp.ClientSession() as s, s.post(
                gw.url + "/anthropic/v1/messages", headers={"Authorization": f"Basic {token}"},
                json={"model": "anthropic/claude-haiku-4-5", "max_tokens": 8, "messages": MESSAGES}) as r:
            assert r.status == 200
