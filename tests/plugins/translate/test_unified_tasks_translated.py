"""Unified /completions and /embeddings served by Anthropic and Gemini models (openai SDK as client)."""

from __future__ import annotations

import asyncio

import openai
import pytest
from support.behavior import Behavior
from support.fake_gemini import gemini_embedding
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_openai


@pytest.fixture
async def gw(fake_anthropic, fake_gemini, tmp_path):
    cfg = {"providers": {"ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "a"},
                         "gem": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "g"}},
           "endpoints": {
               "complete": {"task": "completions", "served_models": [{"name": "c", "provider": "ant",
                                                                       "model": "claude-x"}]},
               "complete-g": {"task": "completions", "served_models": [{"name": "g", "provider": "gem",
                                                                         "model": "gemini-2.5-flash"}]},
               "embed": {"task": "embeddings", "served_models": [{"name": "e", "provider": "gem",
                                                                   "model": "gemini-embedding-001"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


def client(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=TEST_KEY, max_retries=0)


@pytest.mark.parametrize("endpoint", ["complete", "complete-g"])
async def test_completions_on_chat_style_backends(gw, fake_anthropic, fake_gemini, endpoint):
    fake = fake_anthropic if endpoint == "complete" else fake_gemini
    fake.script(Behavior(text=" world"), Behavior(text=" streamed", chunks=3))
    r = await asyncio.to_thread(client(gw).completions.create, model=endpoint, prompt="Hello", max_tokens=5)
    assert r.choices[0].text == " world" and r.choices[0].finish_reason == "stop"
    validate_openai("CreateCompletionResponse", r.model_dump(mode="json", exclude_unset=True))
    stream = await asyncio.to_thread(lambda: list(client(gw).completions.create(
        model=endpoint, prompt="Hello", max_tokens=5, stream=True)))
    assert "".join(c.choices[0].text for c in stream if c.choices) == " streamed"


async def test_embeddings_on_gemini_batch_embed_with_base64_default(gw, fake_gemini):
    r = await asyncio.to_thread(client(gw).embeddings.create, model="embed", input=["a", "b"], dimensions=4)
    assert [d.embedding for d in r.data] == [pytest.approx(gemini_embedding(i, 4)) for i in range(2)]
    sent = fake_gemini.last
    assert sent.path.endswith(":batchEmbedContents")
    assert [q["content"]["parts"][0]["text"] for q in sent.body["requests"]] == ["a", "b"]
    assert sent.body["requests"][0]["outputDimensionality"] == 4
