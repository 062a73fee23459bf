"""The native Gemini surface end to end: google-genai / curl / raw HTTP -> gateway -> fake Gemini API."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from support.behavior import Behavior, ToolCall, Usage
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for
from support.snippets import run_python, run_shell
from support.specs import validate_gemini, validate_gemini_sse

from proxy.zeroconf import settings_from_env

UPSTREAM_KEY = "AIza-upstream-secret"
CONTENTS = [
    {"role": "user", "parts": [{"text": "Hello!"}]},
    {"role": "model", "parts": [{"text": "Hello! How can I assist you today?"}]},
    {"role": "user", "parts": [{"text": "What is Databricks?"}]},
]
USAGE = Usage(input_tokens=20, output_tokens=15, reasoning_tokens=5, cached_tokens=4)


def gemini_config(base_url: str) -> dict:
    return {
        "providers": {"gemini": {"type": "gemini", "base_url": base_url, "api_key": UPSTREAM_KEY}},
        "endpoints": {
            "flash": {"task": "chat", "served_models": [
                {"name": "flash", "provider": "gemini", "model": "gemini-2.5-flash",
                 "prices": {"input": 0.3, "output": 2.5}}]},
            "embed": {"task": "embeddings", "served_models": [
                {"name": "embedding", "provider": "gemini", "model": "gemini-embedding-001"}]},
            "pro": {"task": "chat", "served_models": [
                {"name": "pro", "provider": "gemini", "model": "gemini-2.5-pro"}]},
        },
        "keys": [{"name": "alice-key", "key": TEST_KEY, "owner": "alice", "team": "ml"},
                 {"name": "narrow", "key": "rg-narrow-key-000000", "owner": "bob", "endpoints": ["flash"]}],
    }


@pytest.fixture
async def gw(fake_gemini, tmp_path):
    settings = settings_for(gemini_config(fake_gemini.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


def reference_client(gw, token: str = TEST_KEY, api_version: str | None = None) -> genai.Client:
    """The client as a user builds it (PYTHON_SNIPPET), optionally with an explicit API version."""
    return genai.Client(api_key="databricks", http_options=types.HttpOptions(
        base_url=gw.url + "/gemini", headers={"Authorization": f"Bearer {token}"}, api_version=api_version))


async def post(gw, path: str, body: object, headers: dict | None = None) -> tuple[int, dict, bytes]:
    hdrs = {"x-goog-api-key": TEST_KEY, **(headers or {})}
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.post(gw.url + path, json=body,
                                                                           headers=hdrs) as r:
        return r.status, dict(r.headers), await r.read()


def assert_gemini_error(body: dict, code: int, status: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    validate_gemini("Status", {k: v for k, v in body["error"].items() if k != "status"})


# ------------------------------------------------------------------ SDK, curl, snippets


async def test_sdk_generate_is_answered_metered_and_counted(gw, fake_gemini):
    fake_gemini.script(Behavior(text="Databricks is a data platform.", reasoning="thinking...", usage=USAGE))
    client = reference_client(gw)          # google-genai 3.x: /gemini/v1/... by default
    response = await asyncio.to_thread(
        client.models.generate_content, model="flash",
        contents=[types.Content(role="user", parts=[types.Part(text="Hello!")]),
                  types.Content(role="model", parts=[types.Part(text="Hello! How can I assist you today?")]),
                  types.Content(role="user", parts=[types.Part(text="What is Databricks?")])],
        config=types.GenerateContentConfig(max_output_tokens=256))
    assert response.text == "Databricks is a data platform."
    assert response.usage_metadata.thoughts_token_count == 5

    upstream = fake_gemini.last
    assert upstream.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert upstream.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert "authorization" not in upstream.headers and TEST_KEY not in str(dict(upstream.headers))
    assert upstream.body["generationConfig"] == {"maxOutputTokens": 256}
    assert "model" not in upstream.body

    rows = await gw.ledger_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row["surface"], row["endpoint"], row["served_model"], row["provider"], row["provider_model"]) == \
        ("gemini", "flash", "flash", "gemini", "gemini-2.5-flash")
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"], row["reasoning_tokens"],
            row["total_tokens"]) == (20, 4, 15, 5, 35)
    assert row["cost_usd"] == pytest.approx((20 * 0.3 + 15 * 2.5) / 1e6)
    assert row["owner"] == "alice" and row["status"] == 200 and row["stream"] == 0

    text = await gw.metrics()
    labels = {"endpoint": "flash", "served_model": "flash", "provider": "gemini"}
    assert metric_value(text, "relaygate_requests_total", status="200", **labels) == 1
    assert metric_value(text, "relaygate_tokens_total", type="reasoning", **labels) == 5
    assert metric_value(text, "relaygate_tokens_total", type="cached_input", **labels) == 4


#: what a user writes to call the gateway's Gemini surface with google-genai: the gateway key
#: travels as a bearer token, the SDK's own key is a placeholder
PYTHON_SNIPPET = """
import os

from google import genai
from google.genai import types

client = genai.Client(
    api_key="placeholder",
    http_options=types.HttpOptions(
        base_url=os.environ["RELAYGATE_URL"] + "/gemini",
        headers={"Authorization": "Bearer " + os.environ["RELAYGATE_TOKEN"]},
    ),
)
reply = client.models.generate_content(
    model="flash",
    contents=[
        types.Content(role="user", parts=[types.Part(text="Suggest a name for a cat.")]),
        types.Content(role="model", parts=[types.Part(text="Pepper.")]),
        types.Content(role="user", parts=[types.Part(text="One more, please.")]),
    ],
    config=types.GenerateContentConfig(max_output_tokens=90),
)
print(reply.text)
"""

#: the same call with curl and basic auth, on the v1beta REST path
CURL_SNIPPET = """
curl -sS -u "token:$RELAYGATE_TOKEN" -X POST \\
  -H "Content-Type: application/json" \\
  -d '{"contents": [{"role": "user", "parts": [{"text": "Suggest a name for a cat."}]},
                    {"role": "model", "parts": [{"text": "Pepper."}]},
                    {"role": "user", "parts": [{"text": "One more, please."}]}],
       "generationConfig": {"maxOutputTokens": 90}}' \\
  "$RELAYGATE_URL/gemini/v1beta/models/flash:generateContent"
"""


async def test_python_and_curl_snippets_run(gw, fake_gemini):
    fake_gemini.script(Behavior(text="Miso."))
    ran = await run_python(PYTHON_SNIPPET, gw.url, TEST_KEY)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "Miso.\n"
    assert fake_gemini.last.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert fake_gemini.last.body["generationConfig"] == {"maxOutputTokens": 90}
    fake_gemini.script(Behavior(text="From curl."))
    ran = await run_shell(CURL_SNIPPET, gw.url, TEST_KEY)
    assert ran.returncode == 0, ran.stderr
    response = validate_gemini("GenerateContentResponse", json.loads(ran.stdout))
    assert response["candidates"][0]["content"]["parts"][0]["text"] == "From curl."
    assert fake_gemini.last.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert fake_gemini.last.body["generationConfig"] == {"maxOutputTokens": 90}
    assert fake_gemini.last.body["contents"][1] == {"role": "model", "parts": [{"text": "Pepper."}]}


# ------------------------------------------------------------------ both API versions, streams


@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
async def test_sdk_stream_on_both_api_versions(gw, fake_gemini, api_version):
    fake_gemini.script(Behavior(chunks=4, reasoning="hmm", usage=USAGE))
    client = reference_client(gw, api_version=api_version)
    parts = []
    async for chunk in await client.aio.models.generate_content_stream(model="flash", contents="hi"):
        parts += [p for c in chunk.candidates or [] for p in c.content.parts or []]
    assert "".join(p.text for p in parts if not p.thought) == "Hello from the fake model."
    assert any(p.thought for p in parts)
    assert fake_gemini.last.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert fake_gemini.last.query == {"alt": "sse"}
    rows = await gw.ledger_rows()
    assert rows[0]["stream"] == 1 and rows[0]["ttft_ms"] is not None
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"], rows[0]["reasoning_tokens"],
            rows[0]["cached_input_tokens"]) == (20, 15, 5, 4)


async def test_raw_sse_stream_is_framed_as_gemini(gw, fake_gemini):
    fake_gemini.script(Behavior(chunks=3))
    status, headers, data = await post(gw, "/gemini/v1beta/models/flash:streamGenerateContent?alt=sse&x=1",
                                       {"contents": CONTENTS}, {"Accept": "application/json",
                                                                "Accept-Encoding": "gzip, br"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert "Content-Encoding" not in headers
    chunks = validate_gemini_sse(data)
    assert len(chunks) == 3 and chunks[-1]["usageMetadata"]["promptTokenCount"] == 12


async def test_json_array_stream_passes_through_as_it_arrives(gw, fake_gemini):
    fake_gemini.script(Behavior(chunks=3, chunk_delay=0.3, usage=Usage(input_tokens=7, output_tokens=3)))
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + "/gemini/v1beta/models/flash:streamGenerateContent",
            json={"contents": CONTENTS}, headers={"x-goog-api-key": TEST_KEY}) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        first = await r.content.readany()
        # The first element arrives before the upstream has finished the array.
        assert first.startswith(b"[") and not first.rstrip().endswith(b"]")
        data = first + await r.read()
    assert fake_gemini.last.query == {}                     # no alt=sse upstream either
    elements = json.loads(data)
    assert isinstance(elements, list) and len(elements) == 3
    for element in elements:
        validate_gemini("GenerateContentResponse", element)
    rows = await gw.ledger_rows()
    assert rows[0]["stream"] == 1
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"]) == (7, 3)


async def test_tool_calls_and_unknown_fields_pass_untouched(gw, fake_gemini):
    fake_gemini.script(Behavior(tool_calls=[ToolCall("run_shell_command", {"command": "echo hi"}, id="c1")],
                                reasoning="plan"))
    body = {"contents": [*CONTENTS, {"role": "model", "parts": [
                {"functionCall": {"id": "c0", "name": "run_shell_command", "args": {"command": "ls"}},
                 "thoughtSignature": "c2ln"}]},
                {"role": "user", "parts": [{"functionResponse": {"id": "c0", "name": "run_shell_command",
                                                                 "response": {"output": "x"}}}]}],
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "tools": [{"functionDeclarations": [{"name": "run_shell_command", "description": "run",
                                                 "parametersJsonSchema": {"type": "object"}}]}],
            "generationConfig": {"temperature": 1, "thinkingConfig": {"includeThoughts": True,
                                                                      "thinkingLevel": "HIGH"}},
            "futureField": {"anything": [1, 2]}}
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:generateContent", body)
    assert status == 200
    assert fake_gemini.last.body == body
    part = validate_gemini("GenerateContentResponse", json.loads(data))["candidates"][0]["content"]["parts"][-1]
    assert part["functionCall"] == {"name": "run_shell_command", "args": {"command": "echo hi"}, "id": "c1"}
    assert part["thoughtSignature"]


async def test_count_tokens_and_embeddings(gw, fake_gemini):
    client = reference_client(gw, api_version="v1beta")
    fake_gemini.script(Behavior(usage=Usage(input_tokens=42)))
    counted = await client.aio.models.count_tokens(model="flash", contents="How many tokens?")
    assert counted.total_tokens == 42
    assert fake_gemini.last.path == "/v1beta/models/gemini-2.5-flash:countTokens"

    result = await client.aio.models.embed_content(model="embed", contents=["a", "b", "c"])
    assert len(result.embeddings) == 3 and len(result.embeddings[0].values) == 8
    upstream = fake_gemini.last
    assert upstream.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    # Each request names the URL's model, so it is rewritten from the endpoint to the provider's model.
    assert {r["model"] for r in upstream.body["requests"]} == {"models/gemini-embedding-001"}

    status, _, data = await post(gw, "/gemini/v1/models/embed:embedContent",
                                 {"content": {"parts": [{"text": "one"}]}, "outputDimensionality": 4})
    assert status == 200
    assert len(validate_gemini("EmbedContentResponse", json.loads(data))["embedding"]["values"]) == 4
    rows = await gw.ledger_rows()
    assert [r["endpoint"] for r in rows] == ["flash", "embed", "embed"]


async def test_key_query_parameter_and_unknown_query_params(gw, fake_gemini):
    fake_gemini.script(Behavior(text="via ?key="))
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + f"/gemini/v1beta/models/flash:generateContent?key={TEST_KEY}&$alt=json;enum-encoding=int",
            json={"contents": CONTENTS}) as r:
        assert r.status == 200
        assert (await r.json())["candidates"][0]["content"]["parts"][0]["text"] == "via ?key="
    assert TEST_KEY not in str(fake_gemini.last.query)


# ------------------------------------------------------------------ errors in Gemini's shape


async def test_bad_key_is_401_unauthenticated(gw, fake_gemini):
    client = reference_client(gw, token="wrong-key")
    with pytest.raises(genai_errors.ClientError) as info:
        await client.aio.models.generate_content(model="flash", contents="hi")
    assert info.value.code == 401 and info.value.status == "UNAUTHENTICATED"
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:generateContent", {"contents": CONTENTS},
                                 {"x-goog-api-key": "wrong-key"})
    assert_gemini_error(json.loads(data), 401, "UNAUTHENTICATED")
    assert fake_gemini.requests == []


async def test_validation_unknown_endpoint_method_and_scope(gw, fake_gemini):
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:generateContent", {"contents": "hi"})
    assert status == 400
    assert_gemini_error(json.loads(data), 400, "INVALID_ARGUMENT")
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:generateContent", [1, 2])
    assert_gemini_error(json.loads(data), 400, "INVALID_ARGUMENT")
    status, _, data = await post(gw, "/gemini/v1beta/models/embed:generateContent", {"contents": CONTENTS})
    assert status == 400                      # an embeddings endpoint does not generate
    status, _, data = await post(gw, "/gemini/v1beta/models/nope:generateContent", {"contents": CONTENTS})
    assert status == 404
    assert_gemini_error(json.loads(data), 404, "NOT_FOUND")
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:predict", {"instances": []})
    assert status == 404
    assert_gemini_error(json.loads(data), 404, "NOT_FOUND")
    status, _, data = await post(gw, "/gemini/v1beta/models/pro:generateContent", {"contents": CONTENTS},
                                 {"x-goog-api-key": "rg-narrow-key-000000"})
    assert status == 403
    assert_gemini_error(json.loads(data), 403, "PERMISSION_DENIED")
    assert fake_gemini.requests == []


async def test_upstream_errors_pass_through(gw, fake_gemini):
    fake_gemini.always(Behavior(status=429, retry_after=3))
    client = reference_client(gw)
    with pytest.raises(genai_errors.ClientError) as info:
        await client.aio.models.generate_content(model="flash", contents="hi")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    rows = await gw.ledger_rows()
    assert rows[-1]["status"] == 429 and rows[-1]["error"] == "429"
    fake_gemini.reset()
    fake_gemini.always(Behavior(status=401))       # the provider refused *our* key: a gateway problem
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:generateContent", {"contents": CONTENTS})
    assert status == 502
    assert_gemini_error(json.loads(data), 502, "UNAVAILABLE")


async def test_broken_streams_end_with_a_gemini_error(gw, fake_gemini):
    fake_gemini.script(Behavior(chunks=5, break_after=2))
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:streamGenerateContent?alt=sse",
                                 {"contents": CONTENTS})
    assert status == 200
    assert data.endswith(b"\r\n\r\n")
    last = json.loads(data.split(b"\r\n\r\n")[-2].removeprefix(b"data: "))
    assert_gemini_error(last, 502, "UNAVAILABLE")

    fake_gemini.script(Behavior(chunks=5, break_after=2))
    status, _, data = await post(gw, "/gemini/v1beta/models/flash:streamGenerateContent", {"contents": CONTENTS})
    elements = json.loads(data)                   # still one well-formed JSON array
    assert len(elements) == 3
    assert_gemini_error(elements[-1], 502, "UNAVAILABLE")
    rows = await gw.ledger_rows()
    assert [r["error"] for r in rows] == ["protocol", "protocol"]


# ------------------------------------------------------------------ models list, zero-config


async def test_models_list_and_get(gw):
    client = reference_client(gw, api_version="v1beta")
    names = [m.name async for m in await client.aio.models.list()]
    assert names == ["models/embed", "models/flash", "models/pro"]
    model = await client.aio.models.get(model="flash")
    assert model.name == "models/flash"


async def test_zero_config_endpoint_with_a_slash(fake_gemini, tmp_path):
    settings = settings_from_env({"GEMINI_API_KEY": UPSTREAM_KEY, "GOOGLE_GEMINI_BASE_URL": fake_gemini.base_url,
                                  "RELAYGATE_API_KEYS": TEST_KEY, "RELAYGATE_LEDGER_PATH": str(tmp_path / "z.db")})
    async with run_gateway(settings) as gw:
        client = reference_client(gw)
        fake_gemini.script(Behavior(text="zero config"))
        response = await client.aio.models.generate_content(model="gemini/gemini-2.5-flash", contents="hi")
        assert response.text == "zero config"
        assert fake_gemini.last.path == "/v1beta/models/gemini-2.5-flash:generateContent"
        fake_gemini.script(Behavior(chunks=2))
        text = "".join([c.text async for c in await client.aio.models.generate_content_stream(
            model="gemini/gemini-2.5-flash", contents="hi")])
        assert text == "Hello from the fake model."
        rows = await gw.ledger_rows()
        assert [(r["endpoint"], r["provider_model"]) for r in rows] == [("gemini/gemini-2.5-flash",
                                                                         "gemini-2.5-flash")] * 2
