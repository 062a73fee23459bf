"""``POST /serving-endpoints/{name}/invocations``: the endpoint's task picks the format."""

from __future__ import annotations

import json

import aiohttp
import pytest
from openai_gateway_config import all_tasks_config
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_openai, validate_openai_chat_stream

CHAT = {"messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 32}
COMPLETION = {"prompt": ["One", "Two"], "max_tokens": 8}
EMBEDDING = {"input": ["What is Relaygate?"], "encoding_format": "float"}


@pytest.fixture
async def gw(fake_openai, tmp_path):
    settings = settings_for(all_tasks_config(fake_openai.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def basic(password: str) -> str:
    """What ``curl -u token:$TOKEN`` sends."""
    return aiohttp.encode_basic_auth("token", password)


async def invoke(gw, name: str, body: dict, authorization: str = f"Bearer {TEST_KEY}") -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s, s.post(f"{gw.url}/serving-endpoints/{name}/invocations", json=body,
                                                    headers={"Authorization": authorization}) as r:
        return r.status, await r.read()


@pytest.mark.parametrize(("name", "body", "upstream_path", "schema"), [
    ("chat", CHAT, "/chat/completions", "CreateChatCompletionResponse"),
    ("complete", COMPLETION, "/completions", "CreateCompletionResponse"),
    ("embed", EMBEDDING, "/embeddings", "CreateEmbeddingResponse"),
    # A zero-config wildcard endpoint has task "any": the body's shape decides.
    ("openai/gpt-4o-mini", CHAT, "/chat/completions", "CreateChatCompletionResponse"),
    ("openai/gpt-3.5-turbo-instruct", COMPLETION, "/completions", "CreateCompletionResponse"),
    ("openai/text-embedding-3-small", EMBEDDING, "/embeddings", "CreateEmbeddingResponse"),
])
async def test_each_task_is_served_from_the_path_name(gw, fake_openai, name, body, upstream_path, schema):
    status, data = await invoke(gw, name, body, basic(TEST_KEY))   # curl -u token:$TOKEN
    assert status == 200, data
    validate_openai(schema, json.loads(data))
    assert fake_openai.last.path.endswith(upstream_path)
    assert fake_openai.last.body["model"] == (name.split("/", 1)[1] if "/" in name else
                                              {"chat": "gpt-4o-mini", "complete": "gpt-3.5-turbo-instruct",
                                               "embed": "text-embedding-3-small"}[name])
    rows = await gw.ledger_rows()
    assert rows[0]["endpoint"] == name and rows[0]["surface"] == "unified"


@pytest.mark.parametrize(("name", "body", "param"), [
    ("chat", EMBEDDING, "messages"),
    ("embed", CHAT, "input"),
    ("complete", EMBEDDING, "prompt"),
    ("openai/gpt-4o-mini", {"max_tokens": 3}, "messages"),                  # no shape at all
    ("openai/gpt-4o-mini", {**CHAT, **COMPLETION}, "messages"),             # two shapes at once
])
async def test_a_body_that_does_not_fit_the_task_is_400(gw, fake_openai, name, body, param):
    status, data = await invoke(gw, name, body)
    assert status == 400
    error = validate_openai("ErrorResponse", json.loads(data))["error"]
    assert error["param"] == param
    assert fake_openai.requests == []


async def test_streaming_chat_invocation(gw, fake_openai):
    fake_openai.script(Behavior(chunks=3))
    status, data = await invoke(gw, "chat", {**CHAT, "stream": True})
    assert status == 200
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in validate_openai_chat_stream(data))


async def test_unknown_endpoint_and_bad_key(gw, fake_openai):
    status, data = await invoke(gw, "missing", CHAT)
    assert status == 404 and "missing" in json.loads(data)["error"]["message"]
    status, data = await invoke(gw, "chat", CHAT, basic("wrong"))
    assert status == 401
    assert validate_openai("ErrorResponse", json.loads(data))["error"]["type"] == "authentication_error"
    assert fake_openai.requests == []
