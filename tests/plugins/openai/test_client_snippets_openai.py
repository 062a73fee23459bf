"""How a user calls the unified (MLflow) chat and embeddings APIs and the OpenAI Responses API
with the openai SDK, and the same calls with curl and basic auth.

The Python snippets run as written, reading the gateway's address and key from the
environment like a user's script; each curl body is sent as ``curl -u token:$RELAYGATE_TOKEN``
would send it.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from openai_gateway_config import all_tasks_config
from support.behavior import Behavior, Usage
from support.fake_openai import embedding_vector
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_openai

_CLIENT = """
import os

from openai import OpenAI

client = OpenAI(api_key=os.environ["RELAYGATE_TOKEN"], base_url=os.environ["RELAYGATE_URL"] + "{base}")
"""

#: task -> (endpoint, the snippet a user writes)
PYTHON_SNIPPETS = {
    "chat": ("chat", _CLIENT.format(base="/mlflow/v1") + """
completion = client.chat.completions.create(
    model="chat",
    max_tokens=150,
    messages=[
        {"role": "user", "content": "A word that rhymes with moon?"},
        {"role": "assistant", "content": "Spoon."},
        {"role": "user", "content": "And another?"},
    ],
)
print(completion.choices[0].message.content)
"""),
    "embeddings": ("embed", _CLIENT.format(base="/mlflow/v1") + """
result = client.embeddings.create(model="embed", input="A short sentence to embed.")
print(result.data[0].embedding)
"""),
    "responses": ("gpt-5.5", _CLIENT.format(base="/openai/v1") + """
response = client.responses.create(
    model="gpt-5.5",
    max_output_tokens=150,
    input=[
        {"role": "user", "content": [{"type": "input_text", "text": "A word that rhymes with moon?"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Spoon."}]},
        {"role": "user", "content": [{"type": "input_text", "text": "And another?"}]},
    ],
)
print(response.output)
"""),
}

#: task -> (endpoint, path, the JSON body of the curl command)
CURL_BODIES = {
    "chat": ("chat", "/mlflow/v1/chat/completions", {
        "model": "chat", "max_tokens": 150,
        "messages": [{"role": "user", "content": "A word that rhymes with moon?"},
                     {"role": "assistant", "content": "Spoon."},
                     {"role": "user", "content": "And another?"}]}),
    "embeddings": ("embed", "/mlflow/v1/embeddings", {"model": "embed", "input": "A short sentence to embed."}),
    "responses": ("gpt-5.5", "/openai/v1/responses", {
        "model": "gpt-5.5", "max_output_tokens": 150,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "A word that rhymes with moon?"}]},
                  {"role": "assistant", "content": [{"type": "output_text", "text": "Spoon."}]},
                  {"role": "user", "content": [{"type": "input_text", "text": "And another?"}]}]}),
}
SCHEMAS = {"chat": "CreateChatCompletionResponse", "embeddings": "CreateEmbeddingResponse", "responses": "Response"}


@pytest.fixture
async def gw(fake_openai, tmp_path, monkeypatch):
    settings = settings_for(all_tasks_config(fake_openai.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        monkeypatch.setenv("RELAYGATE_URL", running.url)
        monkeypatch.setenv("RELAYGATE_TOKEN", TEST_KEY)
        yield running


@pytest.mark.parametrize("task", PYTHON_SNIPPETS)
async def test_python_snippet_runs(gw, fake_openai, task):
    endpoint, code = PYTHON_SNIPPETS[task]
    fake_openai.script(Behavior(text="June.", reasoning="r" if task == "responses" else None,
                                usage=Usage(input_tokens=11, output_tokens=4)))
    printed: list = []
    await asyncio.to_thread(exec, code, {"print": printed.append, "__name__": "snippet"})
    assert len(printed) == 1
    if task == "chat":
        assert printed[0] == "June."
    elif task == "embeddings":
        assert printed[0] == embedding_vector(0, 8)       # decoded from the SDK's default base64
    else:
        assert [item.type for item in printed[0]] == ["reasoning", "message"]
        assert printed[0][1].content[0].text == "June."
    rows = await gw.ledger_rows()
    assert rows[0]["endpoint"] == endpoint and rows[0]["input_tokens"] == 11


@pytest.mark.parametrize("task", CURL_BODIES)
async def test_curl_body_with_basic_auth(gw, fake_openai, task):
    endpoint, path, body = CURL_BODIES[task]
    headers = {"Authorization": aiohttp.encode_basic_auth("token", TEST_KEY), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, data=json.dumps(body), headers=headers) as r:
        assert r.status == 200, await r.text()
        answer = await r.json()
    validate_openai(SCHEMAS[task], answer)
    assert fake_openai.last.bearer == "sk-upstream-secret"
    assert {k: v for k, v in fake_openai.last.body.items() if k != "model"} == \
        {k: v for k, v in body.items() if k != "model"}
    rows = await gw.ledger_rows()
    assert rows[0]["endpoint"] == endpoint
