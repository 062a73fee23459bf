"""Unified embeddings and completions (and their native twins) end to end with the openai SDK."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest
from openai_gateway_config import all_tasks_config
from support.behavior import Behavior, Usage
from support.fake_openai import embedding_vector
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_openai, validate_openai_completions_stream


@pytest.fixture
async def gw(fake_openai, tmp_path):
    config = all_tasks_config(fake_openai.base_url)
    # A second provider that understands the reference's extra fields.
    config["providers"]["reference"] = {"type": "openai_compatible", "base_url": fake_openai.base_url,
                                        "options": {"reference_params": True}}
    config["endpoints"]["bge"] = {"task": "embeddings", "served_models": [
        {"name": "bge", "provider": "reference", "model": "bge-large-en"}]}
    settings = settings_for(config, ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def client(gw, prefix: str = "/mlflow/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + prefix, api_key=TEST_KEY, max_retries=0)


async def post(gw, path: str, body: dict) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s, \
            s.post(gw.url + path, json=body, headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, await r.read()


@pytest.mark.parametrize("prefix", ["/mlflow/v1", "/v1", "/serving-endpoints", "/openai/v1"])
async def test_sdk_default_base64_embeddings_decode_to_the_vectors(gw, fake_openai, prefix):
    fake_openai.script(Behavior(usage=Usage(input_tokens=9)))
    raw = await asyncio.to_thread(client(gw, prefix).embeddings.with_raw_response.create,
                                  model="embed", input=["a", "b", "c"])
    assert fake_openai.last.body["encoding_format"] == "base64"      # the SDK's default
    result = raw.parse()
    assert [d.embedding for d in result.data] == [embedding_vector(i, 8) for i in range(3)]
    assert result.usage.prompt_tokens == 9
    validate_openai("CreateEmbeddingResponse", json.loads(raw.content) | {"data": [
        {**d, "embedding": [0.0]} for d in json.loads(raw.content)["data"]]})   # spec: float lists
    rows = await gw.ledger_rows()
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"], rows[0]["total_tokens"]) == (9, 0, 9)
    assert rows[0]["surface"] == ("openai" if prefix == "/openai/v1" else "unified")


async def test_float_embeddings_and_dimensions(gw, fake_openai):
    result = await asyncio.to_thread(client(gw).embeddings.create, model="embed", input="What is Relaygate?",
                                     encoding_format="float", dimensions=4)
    assert result.data[0].embedding == embedding_vector(0, 4)
    validate_openai("CreateEmbeddingResponse", result.model_dump(mode="json"))
    assert fake_openai.last.body == {"model": "text-embedding-3-small", "input": "What is Relaygate?",
                                     "encoding_format": "float", "dimensions": 4}


async def test_token_array_inputs_are_accepted(gw, fake_openai):
    status, body = await post(gw, "/mlflow/v1/embeddings", {"model": "embed", "input": [[1, 2], [3]]})
    assert status == 200 and len(json.loads(body)["data"]) == 2


@pytest.mark.parametrize(("body", "param"), [
    ({"input": []}, "input"),
    ({"input": ["ok", 3]}, "input[1]"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "x", "dimensions": 0}, "dimensions"),
    ({"input": "x", "instruction": 5}, "instruction"),
])
async def test_invalid_embeddings_requests(gw, fake_openai, body, param):
    status, data = await post(gw, "/mlflow/v1/embeddings", {"model": "embed", **body})
    assert status == 400
    assert validate_openai("ErrorResponse", json.loads(data))["error"]["param"] == param
    assert fake_openai.requests == []


async def test_instruction_follows_provider_support_and_endpoint_policy(gw, fake_openai):
    body = {"input": "find docs", "instruction": "Represent this sentence for searching relevant passages:"}
    status, data = await post(gw, "/mlflow/v1/embeddings", {"model": "embed", **body})
    assert status == 400 and json.loads(data)["error"]["param"] == "instruction"   # OpenAI cannot honour it
    assert fake_openai.requests == []
    status, _ = await post(gw, "/mlflow/v1/embeddings", {"model": "embed-drop", **body})
    assert status == 200 and "instruction" not in fake_openai.last.body           # policy: drop
    status, _ = await post(gw, "/mlflow/v1/embeddings", {"model": "bge", **body})
    assert status == 200 and fake_openai.last.body["instruction"] == body["instruction"]


async def test_completions_with_a_list_of_prompts_and_n(gw, fake_openai):
    fake_openai.script(Behavior(text=" done", usage=Usage(input_tokens=6, output_tokens=8)))
    raw = await asyncio.to_thread(client(gw).completions.with_raw_response.create, model="complete",
                                  prompt=["Say A", "Say B"], n=2, max_tokens=16, echo=True, stop=["\n"],
                                  suffix="", temperature=0.5, logprobs=2)
    result = raw.parse()
    assert [c.index for c in result.choices] == [0, 1, 2, 3]
    assert result.choices[2].text == "Say B done"
    validate_openai("CreateCompletionResponse", json.loads(raw.content))
    assert fake_openai.last.body["prompt"] == ["Say A", "Say B"] and fake_openai.last.body["n"] == 2
    rows = await gw.ledger_rows()
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"], rows[0]["endpoint"]) == (6, 8, "complete")


async def test_completions_stream_is_metered_without_showing_the_usage_chunk(gw, fake_openai):
    fake_openai.script(Behavior(chunks=3, usage=Usage(input_tokens=5, output_tokens=3)))
    status, body = await post(gw, "/v1/completions", {"model": "complete", "prompt": "Hi", "stream": True})
    assert status == 200
    chunks = validate_openai_completions_stream(body)
    assert all(c["choices"] for c in chunks)                       # the client did not ask for usage
    assert fake_openai.last.body["stream_options"] == {"include_usage": True}
    rows = await gw.ledger_rows()
    assert (rows[0]["stream"], rows[0]["input_tokens"], rows[0]["output_tokens"]) == (1, 5, 3)


async def test_reference_only_completion_fields(gw, fake_openai):
    # Values that restate OpenAI's own behaviour are stripped silently ...
    status, _ = await post(gw, "/mlflow/v1/completions", {"model": "complete", "prompt": "Hi",
                                                          "error_behavior": "error", "use_raw_prompt": True})
    assert status == 200
    assert "error_behavior" not in fake_openai.last.body and "use_raw_prompt" not in fake_openai.last.body
    # ... one it cannot honour is refused by the endpoint's default policy.
    status, data = await post(gw, "/mlflow/v1/completions", {"model": "complete", "prompt": "Hi",
                                                             "error_behavior": "truncate"})
    assert status == 400 and json.loads(data)["error"]["param"] == "error_behavior"


@pytest.mark.parametrize(("body", "param"), [
    ({}, "prompt"),
    ({"prompt": ["ok", {"x": 1}]}, "prompt[1]"),
    ({"prompt": "x", "logprobs": 6}, "logprobs"),
    ({"prompt": "x", "n": 5}, "n"),                       # above the endpoint's max_n
    ({"prompt": "x", "temperature": -1}, "temperature"),
    ({"prompt": "x", "echo": "yes"}, "echo"),
    ({"prompt": "x", "suffix": 1}, "suffix"),
    ({"prompt": "x", "error_behavior": "ignore"}, "error_behavior"),
    ({"prompt": "x", "use_raw_prompt": "no"}, "use_raw_prompt"),
    ({"prompt": "x", "stop": ["a"] * 17}, "stop"),
    ({"prompt": "x", "stream_options": {"include_usage": True}}, "stream_options"),
])
async def test_invalid_completions_requests(gw, fake_openai, body, param):
    status, data = await post(gw, "/mlflow/v1/completions", {"model": "complete", **body})
    assert status == 400
    assert validate_openai("ErrorResponse", json.loads(data))["error"]["param"] == param
    assert fake_openai.requests == []


async def test_task_of_the_endpoint_is_enforced_on_unified_routes(gw, fake_openai):
    status, data = await post(gw, "/mlflow/v1/embeddings", {"model": "chat", "input": "x"})
    assert status == 400 and json.loads(data)["error"]["param"] == "model"
    status, _ = await post(gw, "/mlflow/v1/embeddings", {"model": "openai/text-embedding-3-small", "input": "x"})
    assert status == 200                                   # a zero-config wildcard serves any task
