"""Client shapes of issue 16: the exact requests of third-party clients (client_shapes/*.json, the
project's own fixtures) and the official SDKs, over real HTTP to the fake providers, and what those
clients need of the answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from fidelity_support import fidelity_gateway
from google import genai
from google.genai import types as genai_types
from plugins.agents.agent_env import setup_for
from support.behavior import Behavior
from support.gateway import TEST_KEY
from support.specs import validate_anthropic, validate_anthropic_stream, validate_gemini, validate_openai

SHAPES = Path(__file__).parent / "client_shapes"


@pytest.fixture
async def gw(fake_anthropic, fake_gemini, fake_openai, tmp_path):
    async with fidelity_gateway(fake_anthropic, fake_gemini, fake_openai, tmp_path) as running:
        yield running


def shape(name: str, model: str) -> dict[str, Any]:
    """A recorded request with ``{model}`` filled in."""
    return json.loads((SHAPES / f"{name}.json").read_text().replace("{model}", model))


async def send(gw, request: dict[str, Any], key_header: str = "Authorization") -> tuple[int, Any]:
    key = f"Bearer {TEST_KEY}" if key_header == "Authorization" else TEST_KEY
    async with aiohttp.ClientSession() as s, s.request(
            request["method"], gw.url + request["path"], json=request["body"],
            headers={**request["headers"], key_header: key}) as r:
        return r.status, await r.json(content_type=None)


def nulls_in_optional_fields(message: dict[str, Any]) -> list[str]:
    """Where an Anthropic message has ``null`` in a key its SDK schema makes optional-not-nullable.

    The Vercel AI SDK's response schema: text blocks ``{type, text, citations?: array}``, tool_use
    ``{type, id, name, input}``, thinking ``{type, thinking, signature}``."""
    bad = []
    for i, block in enumerate(message.get("content") or []):
        for key, value in block.items():
            if value is None:
                bad.append(f"content[{i}].{key}")
    return bad


# ---------------------------------------------------------------- Vercel AI SDK (@ai-sdk/anthropic)

@pytest.mark.parametrize("model", ["gem", "gpt"])
async def test_vercel_ai_sdk_anthropic_reads_translated_answers(gw, fake_gemini, fake_openai, model):
    (fake_gemini if model == "gem" else fake_openai).script(Behavior(text="Blue."))
    status, body = await send(gw, shape("vercel_ai_anthropic", model))
    assert status == 200, body
    validate_anthropic("Message", body)
    assert body["content"] == [{"type": "text", "text": "Blue."}]
    assert nulls_in_optional_fields(body) == []


async def test_a_translated_anthropic_stream_has_no_null_citations(gw, fake_gemini):
    request = shape("vercel_ai_anthropic", "gem")
    request["body"]["stream"] = True
    fake_gemini.script(Behavior(text="Blue.", chunks=2))
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + request["path"], json=request["body"],
            headers={**request["headers"], "Authorization": f"Bearer {TEST_KEY}"}) as r:
        text = await r.text()
    events = validate_anthropic_stream(text)
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert starts and all(None not in b.values() for b in starts)


async def test_anthropic_sdk_parses_a_translated_answer(gw, fake_openai):
    client = anthropic.Anthropic(api_key="unused", base_url=gw.url + "/anthropic", max_retries=0,
                                 default_headers={"Authorization": f"Bearer {TEST_KEY}"})
    fake_openai.script(Behavior(text="Blue."))
    message = await asyncio.to_thread(client.messages.create, model="gpt", max_tokens=64,
                                      messages=[{"role": "user", "content": "Name one colour."}])
    assert message.content[0].text == "Blue." and message.content[0].citations is None


# ---------------------------------------------------------------- @ai-sdk/google and opencode's Google mode

async def test_ai_sdk_google_model_id_with_a_slash_without_models_prefix(gw, fake_gemini):
    fake_gemini.script(Behavior(text="Blue."))
    status, body = await send(gw, shape("ai_sdk_google", "gemini/gemini-2.5-flash"), key_header="x-goog-api-key")
    assert status == 200, body
    validate_gemini("GenerateContentResponse", body)
    assert fake_gemini.last.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert fake_gemini.last.body["generationConfig"]["topK"] == 64


async def test_agent_env_opencode_via_google_prints_a_config_that_works(gw, fake_gemini):
    setup = setup_for("opencode", gw.url, TEST_KEY, "gemini/gemini-2.5-flash", via="google")
    provider = json.loads(setup.env["OPENCODE_CONFIG_CONTENT"])["provider"]["relaygate"]
    assert provider["npm"] == "@ai-sdk/google"
    (model_id,) = provider["models"]
    # @ai-sdk/google: `${baseURL}/${id.includes('/') ? id : `models/${id}`}:streamGenerateContent?alt=sse`
    path = model_id if "/" in model_id else f"models/{model_id}"
    url = f"{provider['options']['baseURL']}/{path}:streamGenerateContent?alt=sse"
    fake_gemini.script(Behavior(text="Blue.", chunks=2))
    async with aiohttp.ClientSession() as s, s.post(
            url, json=shape("ai_sdk_google", model_id)["body"],
            headers={"x-goog-api-key": provider["options"]["apiKey"]}) as r:
        text = await r.text()
    assert r.status == 200, text
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert "".join(p.get("text", "") for e in events for c in e.get("candidates", [])
                   for p in c["content"]["parts"]) == "Blue."


async def test_google_genai_sdk_with_a_slash_model_name(gw, fake_gemini):
    client = genai.Client(api_key="unused", http_options=genai_types.HttpOptions(
        base_url=gw.url + "/gemini", api_version="v1beta", headers={"Authorization": f"Bearer {TEST_KEY}"}))
    fake_gemini.script(Behavior(text="Blue."))
    reply = await asyncio.to_thread(client.models.generate_content, model="gemini/gemini-2.5-flash",
                                    contents="Name one colour.")
    assert reply.text == "Blue."


# ---------------------------------------------------------------- LangChain OpenAIEmbeddings

async def test_langchain_token_id_embeddings_get_a_400_naming_input_on_gemini(gw, fake_gemini):
    status, body = await send(gw, shape("langchain_openai_embeddings", "e-gem"))
    assert status == 400
    assert validate_openai("ErrorResponse", body)["error"]["param"] == "input"
    assert "check_embedding_ctx_length=False" in body["error"]["message"]
    assert fake_gemini.requests == []


async def test_langchain_token_id_embeddings_pass_to_openai(gw, fake_openai):
    status, body = await send(gw, shape("langchain_openai_embeddings", "e-gpt"))
    assert status == 200, body
    assert [d["index"] for d in body["data"]] == [0, 1] and body["id"].startswith("emb-")   # base64, as asked
    assert fake_openai.last.body["input"] == [[3923, 374, 6122, 71, 349, 30], [9906, 1917]]


async def test_openai_sdk_token_ids_to_gemini_raise_bad_request(gw):
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=TEST_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        await asyncio.to_thread(client.embeddings.create, model="e-gem", input=[[9906, 1917]])
    assert err.value.param == "input"


# ---------------------------------------------------------------- MLflow Databricks deployments client

async def test_mlflow_invocations_honour_an_alias(gw, fake_anthropic):
    fake_anthropic.script(Behavior(text="Blue."))
    status, body = await send(gw, shape("mlflow_deployments_invocations", "sonnet"))
    assert status == 200, body
    assert validate_openai("CreateChatCompletionResponse", body)["choices"][0]["message"]["content"] == "Blue."
    assert fake_anthropic.last.body["model"] == "claude-sonnet-4-6"
    status, body = await send(gw, shape("mlflow_deployments_invocations", "no-such-alias"))
    assert status == 404 and validate_openai("ErrorResponse", body)["error"]["param"] == "model"
