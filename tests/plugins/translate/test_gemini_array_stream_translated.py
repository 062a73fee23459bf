"""A Gemini client reading the JSON-array stream (no alt=sse) from an endpoint served by OpenAI."""

from __future__ import annotations

import aiohttp
import orjson
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_gemini


async def test_json_array_stream_is_reframed_from_a_translated_sse_stream(fake_openai, tmp_path):
    fake_openai.script(Behavior(text="Hello there, friend", chunks=3, usage=Usage(input_tokens=6, output_tokens=4)))
    cfg = {"providers": {"oai": {"type": "openai", "base_url": fake_openai.base_url, "api_key": "k"}},
           "endpoints": {"on-gpt": {"served_models": [{"name": "g", "provider": "oai", "model": "gpt-4o-mini"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s, s.post(
                gw.url + "/gemini/v1beta/models/on-gpt:streamGenerateContent",
                headers={"x-goog-api-key": TEST_KEY},
                json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}) as r:
            assert r.status == 200
            assert r.headers["content-type"].startswith("application/json")
            elements = orjson.loads(await r.read())
        assert fake_openai.last.body["stream"] is True            # the provider streamed SSE
        assert isinstance(elements, list) and elements
        for element in elements:
            validate_gemini("GenerateContentResponse", element)
        text = "".join(p.get("text", "") for e in elements for c in e.get("candidates", [])
                       for p in c.get("content", {}).get("parts", []))
        assert text == "Hello there, friend"
        assert elements[-1]["usageMetadata"]["promptTokenCount"] == 6
        rows = await gw.ledger_rows()
        assert (rows[0]["input_tokens"], rows[0]["output_tokens"]) == (6, 4)
