"""Vertex AI's OpenAI-compatible side: self-deployed endpoints with Google tokens on any provider type,
Vertex's chat paths on the gateway, the legacy ``functions`` fields and ``extra_body.google`` on Gemini."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for


def _config(fakes, service_account: str) -> dict:
    return {
        "providers": {
            "gem": {"type": "gemini", "base_url": fakes["gemini"].base_url, "api_key": "g-up"},
            "ant": {"type": "anthropic", "base_url": fakes["anthropic"].base_url, "api_key": "sk-ant-up"},
            # models self-deployed on Vertex endpoints: Google tokens, no API key
            "vllm": {"type": "openai_compatible", "base_url": fakes["openai"].base_url,
                     "credentials_file": service_account},
            "claude_on_endpoint": {"type": "anthropic", "base_url": fakes["anthropic"].base_url,
                                   "credentials_file": service_account},
        },
        "endpoints": {
            "google/gemini-2.5-flash": {"served_models": [{"name": "g", "provider": "gem",
                                                           "model": "gemini-2.5-flash"}]},
            "claude": {"served_models": [{"name": "c", "provider": "ant", "model": "claude-sonnet-4-6"}]},
            "llama": {"served_models": [{"name": "l", "provider": "vllm", "model": "llama-3"}]},
            "claude-deployed": {"served_models": [{"name": "cd", "provider": "claude_on_endpoint",
                                                   "model": "claude-sonnet-4-6"}]},
        },
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
    }


@pytest.fixture
async def gw(fake_openai, fake_anthropic, fake_gemini, gcp_service_account_file, tmp_path):
    fakes = {"openai": fake_openai, "anthropic": fake_anthropic, "gemini": fake_gemini}
    settings = settings_for(_config(fakes, str(gcp_service_account_file)), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as running:
        yield running


async def _post(gw, path: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                    headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, await r.json(content_type=None)


HELLO = [{"role": "user", "content": "Hello!"}]


async def test_a_self_deployed_endpoint_of_any_type_gets_refreshed_google_tokens(gw, fake_openai, fake_anthropic,
                                                                                  fake_gemini):
    status, _ = await _post(gw, "/v1/chat/completions", {"model": "llama", "messages": HELLO})
    assert status == 200
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer ya29.fake-token-1"
    status, _ = await _post(gw, "/anthropic/v1/messages", {"model": "claude-deployed", "max_tokens": 8,
                                                           "messages": HELLO})
    assert status == 200
    sent = fake_anthropic.requests[-1].headers
    assert sent["authorization"].startswith("Bearer ya29.fake-token-") and "x-api-key" not in sent
    assert fake_gemini.tokens_minted == 2          # one refresher per provider, each minting once


async def test_vertex_chat_paths_are_served(gw, fake_gemini, fake_openai):
    # The Gemini path: the body names the model, as Vertex's reference shows with the openai SDK.
    client = openai.AsyncOpenAI(api_key=TEST_KEY, base_url=gw.url + "/v1beta1/projects/p/locations/us-central1"
                                                                    "/endpoints/openapi")
    reply = await client.chat.completions.create(model="google/gemini-2.5-flash", messages=HELLO)
    assert reply.choices[0].message.content
    assert fake_gemini.requests[-1].path.endswith("/models/gemini-2.5-flash:generateContent")
    # A self-deployed endpoint: the path names it and the body has no model.
    status, body = await _post(gw, "/v1/projects/p/locations/us-central1/endpoints/llama/chat/completions",
                               {"messages": HELLO})
    assert status == 200 and body["choices"][0]["message"]["content"]
    assert fake_openai.requests[-1].body["model"] == "llama-3"
    status, body = await _post(gw, "/v1/projects/p/locations/l/endpoints/nope/chat/completions", {"messages": HELLO})
    assert status == 404 and body["error"]["type"] == "not_found_error"


async def test_legacy_functions_reach_gemini_and_come_back_in_their_shape(gw, fake_gemini):
    fake_gemini.script(Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    functions = [{"name": "get_weather", "parameters": {"type": "object",
                                                        "properties": {"city": {"type": "string"}}}}]
    status, body = await _post(gw, "/v1/chat/completions", {
        "model": "google/gemini-2.5-flash", "messages": HELLO, "functions": functions,
        "function_call": {"name": "get_weather"}})
    assert status == 200, body
    sent = fake_gemini.requests[-1].body
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert sent["toolConfig"]["functionCallingConfig"] == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    choice = body["choices"][0]
    assert choice["finish_reason"] == "function_call" and "tool_calls" not in choice["message"]
    assert choice["message"]["function_call"]["name"] == "get_weather"
    assert json.loads(choice["message"]["function_call"]["arguments"]) == {"city": "Oslo"}
    # The next turn, in the legacy shape: the call and its result pair up on Gemini's side.
    status, _ = await _post(gw, "/v1/chat/completions", {
        "model": "google/gemini-2.5-flash", "functions": functions, "messages": [
            *HELLO, {"role": "assistant", "content": None, "function_call": choice["message"]["function_call"]},
            {"role": "function", "name": "get_weather", "content": "sunny"}]})
    assert status == 200
    parts = [p for c in fake_gemini.requests[-1].body["contents"] for p in c["parts"]]
    call = next(p["functionCall"] for p in parts if "functionCall" in p)
    result = next(p["functionResponse"] for p in parts if "functionResponse" in p)
    assert call["name"] == result["name"] == "get_weather" and result["response"] == {"output": "sunny"}


async def test_legacy_functions_stream_in_their_shape(gw, fake_gemini):
    fake_gemini.script(Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    client = openai.AsyncOpenAI(api_key=TEST_KEY, base_url=gw.url + "/v1")
    stream = await client.chat.completions.create(
        model="google/gemini-2.5-flash", messages=HELLO, stream=True,
        functions=[{"name": "get_weather", "parameters": {"type": "object"}}])
    name, args, finish = "", "", None
    async for chunk in stream:
        for c in chunk.choices:
            assert not c.delta.tool_calls
            if c.delta.function_call:
                name += c.delta.function_call.name or ""
                args += c.delta.function_call.arguments or ""
            finish = c.finish_reason or finish
    assert (name, json.loads(args), finish) == ("get_weather", {"city": "Oslo"}, "function_call")


async def test_extra_body_google_thinking_config_is_honoured(gw, fake_gemini, fake_anthropic):
    extra = {"extra_body": {"google": {"thinking_config": {"thinking_budget": 1234, "include_thoughts": True},
                                       "safety_settings": [{"category": "HARM_CATEGORY_HATE_SPEECH",
                                                            "threshold": "BLOCK_NONE"}]}}}
    status, _ = await _post(gw, "/v1/chat/completions", {"model": "google/gemini-2.5-flash", "messages": HELLO,
                                                         **extra})
    assert status == 200
    sent = fake_gemini.requests[-1].body
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1234, "includeThoughts": True}
    assert sent["safetySettings"] == [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    # On Claude the budget becomes its thinking budget (by effort: 1234 tokens is "minimal").
    status, _ = await _post(gw, "/v1/chat/completions", {"model": "claude", "messages": HELLO, "max_tokens": 4096,
                                                         **extra})
    assert status == 200
    assert fake_anthropic.requests[-1].body["thinking"]["type"] in ("enabled", "adaptive")


async def test_a_wrong_extra_body_google_type_is_a_400_naming_it(gw):
    status, body = await _post(gw, "/v1/chat/completions", {
        "model": "google/gemini-2.5-flash", "messages": HELLO,
        "extra_body": {"google": {"thinking_config": {"thinking_budget": "lots"}}}})
    assert status == 400 and body["error"]["param"] == "extra_body.google.thinking_config.thinking_budget"
