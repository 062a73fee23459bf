"""The official SDKs (openai, anthropic, google-genai, google-auth) pointed straight at the fakes."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from support.fake_base import Behavior, ToolCall
from support.fake_openai import embedding_vector

WEATHER = ToolCall("get_weather", {"location": "Paris"})


async def post(http, url, body, headers=None):
    async with http.post(url, json=body, headers=headers or {}) as r:
        return r.status, r.headers, await r.text()


# ------------------------------------------------------------------------------- official SDKs

async def test_openai_sdk(fake_openai):
    import openai
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)
    r = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello from the fake model." and r.usage.total_tokens == 20
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True,
                                                  stream_options={"include_usage": True})
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == "Hello from the fake model." and usage.completion_tokens == 8
    fake_openai.script(Behavior(tool_calls=[WEATHER]))
    async with client.chat.completions.stream(model="m", messages=[]) as s:
        final = await s.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.name == "get_weather"
    resp = await client.responses.create(model="gpt-5.5", input="hi")
    assert resp.output_text == "Hello from the fake model." and resp.usage.total_tokens == 20
    fake_openai.script(Behavior(reasoning="r", tool_calls=[WEATHER], text="t"))
    async with client.responses.stream(model="gpt-5.5", input="hi") as s:
        final = await s.get_final_response()
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call"]
    emb = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])  # base64 default
    assert emb.data[1].embedding == embedding_vector(1, 8)
    assert fake_openai.requests[-1].body["encoding_format"] == "base64"
    models = await client.models.list()
    assert "gpt-4o" in [m.id for m in models.data]
    assert fake_openai.requests[0].headers["authorization"] == "Bearer sk-test"
    await client.close()


async def test_anthropic_sdk(fake_anthropic):
    import anthropic
    client = anthropic.AsyncAnthropic(base_url=fake_anthropic.base_url, api_key="sk-ant", max_retries=0)
    msg = await client.messages.create(model="claude-sonnet-4-6", max_tokens=100,
                                       messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "Hello from the fake model." and msg.usage.output_tokens == 8
    fake_anthropic.script(Behavior(reasoning="think", tool_calls=[WEATHER], text="x"))
    async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=[]) as s:
        final = await s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[2].input == {"location": "Paris"} and final.stop_reason == "tool_use"
    assert final.content[0].signature and final.usage.output_tokens == 8
    n = await client.messages.count_tokens(model="claude-sonnet-4-6", messages=[{"role": "user", "content": "x"}])
    assert n.input_tokens == 12
    page = await client.models.list()
    assert page.data[0].id == "claude-sonnet-4-6"
    fake_anthropic.script(Behavior(status=529))
    with pytest.raises(anthropic.APIStatusError) as ei:
        await client.messages.create(model="c", max_tokens=1, messages=[])
    assert ei.value.status_code == 529
    await client.close()


async def test_genai_sdk(fake_gemini):
    from google import genai
    from google.genai import types
    client = genai.Client(api_key="AIza-test", http_options=types.HttpOptions(base_url=fake_gemini.base_url))
    r = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert r.text == "Hello from the fake model." and r.usage_metadata.total_token_count == 20
    assert fake_gemini.last.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert fake_gemini.last.api_key == "AIza-test"
    text = ""
    async for chunk in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
        text += chunk.text or ""
    assert text == "Hello from the fake model." and fake_gemini.last.query["alt"] == "sse"
    fake_gemini.script(Behavior(tool_calls=[WEATHER]))
    r = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert r.function_calls[0].name == "get_weather" and r.function_calls[0].args == {"location": "Paris"}
    ct = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="hi")
    assert ct.total_tokens == 12
    emb = await client.aio.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert len(emb.embeddings) == 2 and len(emb.embeddings[0].values) == 8
    beta = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake_gemini.base_url,
                                                                    api_version="v1beta"))
    r = await beta.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert r.text and fake_gemini.last.path.startswith("/v1beta/")


async def test_google_auth_service_account_mints_token(fake_gemini, gcp_service_account_file):
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account
    fake_gemini.token_expires_in = 120
    creds = service_account.Credentials.from_service_account_file(
        str(gcp_service_account_file), scopes=["https://www.googleapis.com/auth/cloud-platform"])
    await asyncio.to_thread(creds.refresh, Request())
    assert creds.token == "ya29.fake-token-1" and fake_gemini.tokens_minted == 1
    claims = fake_gemini.token_requests[0]["claims"]
    assert claims["iss"].endswith("iam.gserviceaccount.com") and "cloud-platform" in claims["scope"]
    assert fake_gemini.token_requests[0]["form"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert fake_gemini.requests == []  # token calls are not model calls
    fake_gemini.require_minted_token = True
    async with aiohttp.ClientSession() as http:
        url = fake_gemini.base_url + "/v1/projects/fake-project/locations/us/publishers/google/models/g:generateContent"
        assert (await post(http, url, {}, {"Authorization": f"Bearer {creds.token}"}))[0] == 200
        assert (await post(http, url, {}, {"Authorization": "Bearer stale"}))[0] == 401
