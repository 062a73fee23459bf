"""The reference's MLflow chat, MLflow embeddings and OpenAI Responses snippets, run unchanged.

The Python snippets and the curl commands are cut out of
``shared/reference/databricks-ai-gateway-query-endpoints.pt.txt``; only the
gateway URL, the endpoint name and the token are filled in. Each curl
command's body is sent as ``curl -u token:$DATABRICKS_TOKEN`` would send it.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
from openai_gateway_config import all_tasks_config
from support.behavior import Behavior, Usage
from support.fake_openai import embedding_vector
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import SHARED_DIR, validate_openai

REFERENCE = (SHARED_DIR / "reference" / "databricks-ai-gateway-query-endpoints.pt.txt").read_text()
#: snippet order in the reference -> the endpoint that serves it
ENDPOINTS = {"chat": "chat", "embeddings": "embed", "responses": "gpt-5.5"}


def python_snippets() -> list[str]:
    """The ``from openai import OpenAI`` ... ``print(...)`` blocks, in document order."""
    return re.findall(r"^from openai import OpenAI\n.*?^print\(.*?\)$", REFERENCE, re.S | re.M)


def curl_snippets() -> list[tuple[str, dict]]:
    """(URL, JSON body) of each curl command that uses ``-u token:$DATABRICKS_TOKEN``."""
    found = []
    for block in re.findall(r"^curl \\\n(.*?https://\S+)$", REFERENCE, re.S | re.M):
        if "-u token:$DATABRICKS_TOKEN" not in block:
            continue
        body = re.search(r"-d '(.*?)' \\\n", block, re.S).group(1)
        found.append((block.rsplit("\n", 1)[-1].strip(), json.loads(body)))
    return found


def fill(text: str, gw, endpoint: str) -> str:
    return text.replace("https://<ai-gateway-url>", gw.url).replace("<ai-gateway-endpoint>", endpoint)


@pytest.fixture
async def gw(fake_openai, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", TEST_KEY)
    settings = settings_for(all_tasks_config(fake_openai.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def test_the_reference_has_the_three_openai_snippets():
    assert len(python_snippets()) == 3
    urls = [url for url, _ in curl_snippets()]
    assert [u.rsplit("/", 2)[-2:] for u in urls[:2]] == [["chat", "completions"], ["v1", "embeddings"]]
    assert urls[2].endswith("/openai/v1/responses")


@pytest.mark.parametrize(("index", "task"), enumerate(ENDPOINTS))
async def test_python_snippet_runs_unchanged(gw, fake_openai, index, task):
    fake_openai.script(Behavior(text="Relaygate answers.", reasoning="r" if task == "responses" else None,
                                usage=Usage(input_tokens=11, output_tokens=4)))
    code = fill(python_snippets()[index], gw, ENDPOINTS[task])
    printed: list = []
    await asyncio.to_thread(exec, code, {"print": printed.append, "__name__": "snippet"})
    assert len(printed) == 1
    if task == "chat":
        assert printed[0] == "Relaygate answers."
    elif task == "embeddings":
        assert printed[0] == embedding_vector(0, 8)       # decoded from the SDK's default base64
    else:
        assert [item.type for item in printed[0]] == ["reasoning", "message"]
        assert printed[0][1].content[0].text == "Relaygate answers."
    rows = await gw.ledger_rows()
    assert rows[0]["endpoint"] == ENDPOINTS[task] and rows[0]["input_tokens"] == 11


@pytest.mark.parametrize(("index", "task"), enumerate(ENDPOINTS))
async def test_curl_snippet_with_basic_auth(gw, fake_openai, index, task):
    url, body = curl_snippets()[index]
    body = json.loads(fill(json.dumps(body), gw, ENDPOINTS[task]))
    headers = {"Authorization": aiohttp.encode_basic_auth("token", TEST_KEY), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s, s.post(fill(url, gw, ENDPOINTS[task]), json=body,
                                                    headers=headers) as r:
        assert r.status == 200, await r.text()
        answer = await r.json()
    schema = {"chat": "CreateChatCompletionResponse", "embeddings": "CreateEmbeddingResponse",
              "responses": "Response"}[task]
    validate_openai(schema, answer)
    assert fake_openai.last.bearer == "sk-upstream-secret"
    assert {k: v for k, v in fake_openai.last.body.items() if k != "model"} == \
        {k: v for k, v in body.items() if k != "model"}
