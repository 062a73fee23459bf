"""``/v1`` takes what OpenAI takes: aider's late system reminder and pydantic-ai's two system
messages pass (client_shapes/), on every provider, and no system text is dropped. The
Databricks surfaces (``/mlflow/v1``, ``/serving-endpoints``) keep the reference's rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from proxy.zeroconf import settings_from_env
from support.gateway import TEST_KEY, run_gateway

SHAPES = Path(__file__).parent / "client_shapes"
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-sonnet-4-6",
          "gemini": "gemini/gemini-2.5-flash"}


def shape(name: str, model: str) -> dict[str, Any]:
    body = json.loads((SHAPES / f"{name}.json").read_text())
    body["model"] = model
    return body


def system_texts(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] in ("system", "developer")]


@pytest.fixture
async def gw(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    env = {"OPENAI_API_KEY": "sk", "OPENAI_BASE_URL": fake_openai.base_url,
           "ANTHROPIC_API_KEY": "sk-ant", "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
           "GEMINI_API_KEY": "gm", "GOOGLE_GEMINI_BASE_URL": fake_gemini.base_url,
           "RELAYGATE_API_KEYS": TEST_KEY, "RELAYGATE_LEDGER_PATH": str(tmp_path / "ledger.db")}
    async with run_gateway(settings_from_env(env)) as running:
        yield running


@pytest.mark.parametrize("provider", sorted(MODELS))
@pytest.mark.parametrize("client", ["aider", "pydantic_ai"])
async def test_v1_accepts_several_and_late_system_messages(client, provider, gw, fake_openai, fake_anthropic,
                                                           fake_gemini) -> None:
    body = shape(client, MODELS[provider])
    async with aiohttp.ClientSession(headers=AUTH) as http, \
            http.post(gw.url + "/v1/chat/completions", json=body) as r:
        text = await r.text()
        assert r.status == 200, text
        assert "x-relaygate-dropped" not in r.headers
    if body["stream"]:
        assert text.rstrip().endswith("data: [DONE]")
    sent = {"openai": fake_openai, "anthropic": fake_anthropic, "gemini": fake_gemini}[provider].last.body
    wanted = system_texts(body)
    if provider == "openai":           # passthrough: the messages go as the client wrote them, in place
        assert sent["messages"] == body["messages"]
    elif provider == "anthropic":      # one system prompt: every system message, in order; turns kept
        assert [b["text"] for b in sent["system"]] == wanted
        assert [m["role"] for m in sent["messages"]][-1] == "user"
        turns = [m for m in body["messages"] if m["role"] not in ("system", "developer")]
        assert [c["text"] for m in sent["messages"] for c in m["content"]] == [m["content"] for m in turns]
    else:
        assert [p["text"] for p in sent["systemInstruction"]["parts"]] == wanted


@pytest.mark.parametrize(("client", "param"), [("aider", "messages[8].role"), ("pydantic_ai", "messages[1].role")])
@pytest.mark.parametrize("path", ["/mlflow/v1/chat/completions", "/serving-endpoints/openai/gpt-4o-mini/invocations"])
async def test_databricks_surfaces_keep_the_reference_rule(client, param, path, gw, fake_openai) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http, \
            http.post(gw.url + path, json=shape(client, MODELS["openai"])) as r:
        error = (await r.json())["error"]
        assert r.status == 400
    assert error["param"] == param and "only allowed once" in error["message"]
    assert not fake_openai.requests


async def test_v1_takes_openais_tool_count_and_mlflow_the_references(gw, fake_openai) -> None:
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "parameters": {"type": "object"}}}
             for i in range(40)]
    body = {"model": MODELS["openai"], "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(gw.url + "/v1/chat/completions", json=body) as r:
            assert r.status == 200, await r.text()
        async with http.post(gw.url + "/mlflow/v1/chat/completions", json=body) as r:
            assert r.status == 400 and (await r.json())["error"]["param"] == "tools"
