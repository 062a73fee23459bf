"""``GET /openapi.json``: the gateway's own OpenAPI document, one operation per surface route, whose
request bodies are the shapes the pipeline checks; and the crashes it was fuzzed into finding."""

from __future__ import annotations

import aiohttp
import pytest
from support.gateway import TEST_KEY, run_gateway, settings_for


@pytest.fixture
async def gw(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    config = {
        "providers": {"oai": {"type": "openai", "base_url": fake_openai.base_url, "api_key": "sk"},
                      "ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk"},
                      "gem": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "g"}},
        "endpoints": {f"m-{p}": {"task": "any", "served_models": [{"name": p, "provider": p, "model": "x"}]}
                      for p in ("oai", "ant", "gem")},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
    }
    async with run_gateway(settings_for(config, ledger_path=str(tmp_path / "l.db"))) as running:
        yield running


async def test_the_document_describes_every_surface_route(gw):
    async with aiohttp.ClientSession() as s, s.get(gw.url + "/openapi.json") as r:       # no key needed
        assert r.status == 200
        doc = await r.json()
    assert doc["openapi"] == "3.1.0"
    gateway = gw.gateway
    assert sum(len(ops) for ops in doc["paths"].values()) == len(gateway.routes.surfaces)
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema == gateway.apis.get("openai.chat").request_schema
    gemini = doc["paths"]["/gemini/{version}/models/{endpoint}:generateContent"]["post"]
    assert {p["name"]: p["schema"] for p in gemini["parameters"]}["version"] == {"type": "string",
                                                                                   "enum": ["v1beta", "v1"]}
    anthropic_error = doc["paths"]["/anthropic/v1/messages"]["post"]["responses"]["4XX"]
    assert anthropic_error["content"]["application/json"]["schema"]["required"] == ["error", "request_id", "type"]


async def _post(gw, path: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                    headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, await r.json(content_type=None)


HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(("path", "body", "param"), [
    # the shapes of the crashes: a nested field of the wrong type on a cross-provider route
    ("/v1/responses", {"model": "m-ant", "input": [{"type": "function_call_output", "call_id": "c",
                                                    "output": ["not a block"]}]}, "input[0].output[0]"),
    ("/anthropic/v1/messages", {"model": "m-oai", "max_tokens": 5, "messages": HI,
                                "thinking": {"type": "enabled", "budget_tokens": "9"}}, "thinking.budget_tokens"),
    ("/v1/chat/completions", {"model": "m-gem", "messages": [{"role": "assistant", "tool_calls": [
        {"id": ["x"], "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]},
     "messages[0].tool_calls[0].id"),
    ("/gemini/v1beta/models/m-ant:generateContent", {"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "f", "response": []}}]}]}, "contents[0].parts[0].functionResponse.response"),
    ("/v1/embeddings", {"model": "m-oai", "input": "x", "dimensions": 17000000000000000000}, "dimensions"),
])
async def test_a_nested_field_of_the_wrong_type_is_a_400_naming_its_path(gw, path, body, param):
    status, err = await _post(gw, path, body)
    assert status == 400, err
    message = err["error"]["message"]
    assert f"'{param}'" in message
    if "param" in err["error"]:
        assert err["error"]["param"] == param


async def test_proto_json_integer_strings_reach_another_provider_as_numbers(gw, fake_anthropic):
    gen = "/gemini/v1beta/models/m-ant:generateContent"
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    status, _ = await _post(gw, gen, {"contents": contents, "generation_config": {"max_output_tokens": "64"}})
    assert status == 200 and fake_anthropic.requests[-1].body["max_tokens"] == 64
    status, err = await _post(gw, gen, {"contents": contents, "generationConfig": {"candidateCount": "2"}})
    assert status == 400 and "'n'" in err["error"]["message"]         # Claude answers one candidate
    status, err = await _post(gw, gen, {"contents": contents, "generationConfig": {"topK": "many"}})
    assert status == 400 and "'generationConfig.topK'" in err["error"]["message"]
