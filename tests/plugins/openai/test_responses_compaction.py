"""``POST /responses/compact`` for every model, and the Responses routes under ``/v1``.

OpenAI models compact natively (passthrough); Anthropic and Gemini models get the gateway's
summarisation request through the normal relay (metered and priced), answered as a
``response.compaction`` object whose output starts a new chain. Every answer is validated
with ``openresponses-types``.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest
from responses_compliance_support import SERVED, SERVED_IDS, output_text, serve, upstream_text
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY
from support.open_responses import validate_compaction
from support.specs import validate_openai

from plugins.openai.compaction import COMPACTION_PROMPT, SUMMARY_PREFIX, compaction_item
from plugins.openai.provider import AzureOpenAIProvider
from proxy.config import ProviderConfig

SUMMARY = "The user set the code word slate; the assistant acknowledged it."
CONVERSATION = [
    {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                     "text": "Remember the compaction code word: slate."}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "OK."}]},
    {"type": "function_call", "call_id": "call_open", "name": "lookup", "arguments": '{"q": "slate"}'},
    {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                     "text": "Compress this conversation for later continuation."}]},
]


@pytest.fixture(params=SERVED, ids=SERVED_IDS)
async def served(request, tmp_path):
    async with serve(*request.param, tmp_path) as running:
        yield running


@pytest.fixture(params=["anthropic", "gemini"])
async def translated(request, tmp_path):
    async with serve(request.param, "/v1", tmp_path) as running:
        yield running


async def compact(served, body: dict) -> dict:
    status, raw = await served.post("/responses/compact", {"model": served.model, **body})
    assert status == 200, raw
    return validate_compaction(raw)


async def test_compaction_output_starts_a_new_chain(served):
    served.fake.script(Behavior(text=SUMMARY, usage=Usage(input_tokens=40, output_tokens=12)),
                       Behavior(text="compacted"))
    compacted = await compact(served, {"input": CONVERSATION, "prompt_cache_key": "compact-test"})
    assert compacted["object"] == "response.compaction"
    assert [i["type"] for i in compacted["output"]] == ["message", "message", "compaction"]
    assert all(i["role"] == "user" for i in compacted["output"][:2])
    assert compacted["usage"]["input_tokens"] == 40 and compacted["usage"]["total_tokens"] == 52
    row = (await served.gw.ledger_rows())[0]
    assert (row["input_tokens"], row["output_tokens"], row["status"]) == (40, 12, 200) and row["cost_usd"] > 0

    # A new chain: the compacted window plus a new message, without previous_response_id.
    events, final = await served.stream(input=[*compacted["output"], {"type": "message", "role": "user",
                                                                      "content": "Continue. Reply: compacted"}])
    assert final["status"] == "completed" and output_text(final) == "compacted"
    sent = upstream_text(served.fake)
    if served.provider == "openai":                 # OpenAI gets its own compaction item back as it was
        assert served.fake.requests[0].path.endswith("/responses/compact")
        assert compacted["output"][-1]["encrypted_content"] in sent
    else:
        assert SUMMARY_PREFIX.strip() in sent and SUMMARY in sent


async def test_translated_compaction_is_one_documented_summarisation_request(translated):
    translated.fake.script(Behavior(text=SUMMARY))
    await compact(translated, {"input": CONVERSATION, "instructions": "You are a careful assistant."})
    sent = upstream_text(translated.fake)
    assert json.dumps(COMPACTION_PROMPT)[1:-1] in sent              # the system prompt, verbatim
    for part in ("Remember the compaction code word: slate.", "[assistant]\\nOK.", "called tool lookup",
                 "You are a careful assistant.", "still waiting for their result: lookup (call id call_open)"):
        assert part in sent, part
    assert len(translated.fake.requests) == 1 and "tools" not in translated.fake.last.body


async def test_compaction_of_a_stored_chain_by_previous_response_id(translated):
    translated.fake.script(Behavior(text="Noted: slate."), Behavior(text=SUMMARY))
    first = await translated.create(input="Remember the code word: slate.")
    compacted = await compact(translated, {"previous_response_id": first["id"]})
    assert "Noted: slate." in upstream_text(translated.fake)
    assert compacted["output"][0]["content"][0]["text"] == "Remember the code word: slate."
    error = await translated.refused("/responses/compact", {"model": translated.model,
                                                            "previous_response_id": "resp_unknown"})
    assert error["param"] == "previous_response_id"


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "hi"}, "model"),                                          # no model
    ({"model": "MODEL"}, "input"),                                       # nothing to compact
    ({"model": "MODEL", "input": [{"type": "message", "role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "MODEL", "input": "hi", "instructions": 7}, "instructions"),
    ({"model": "MODEL", "input": "hi", "prompt_cache_key": "k" * 65}, "prompt_cache_key"),
])
async def test_compaction_refusals_name_the_field_in_openai_shape(served, body, param):
    body = {k: served.model if v == "MODEL" else v for k, v in body.items()}
    error = await served.refused("/responses/compact", body)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert served.fake.requests == []


async def test_a_gateway_compaction_reaches_openai_as_its_summary(tmp_path):
    async with serve("openai", "/openai/v1", tmp_path) as served:
        await served.create(input=[compaction_item(SUMMARY), {"type": "message", "role": "user", "content": "go on"}])
    first = served.fake.last.body["input"][0]
    assert first["role"] == "user" and first["content"][0]["text"] == SUMMARY_PREFIX + SUMMARY


async def test_an_openai_compaction_cannot_be_read_by_other_models(translated):
    error = await translated.refused("/responses", {"model": translated.model, "input": [
        {"type": "compaction", "encrypted_content": "gAAAAABpM0Yj-opaque"}]})
    assert error["param"] == "input.compaction"


async def test_the_openai_sdk_compacts_on_a_v1_base_url(translated):
    translated.fake.script(Behavior(text=SUMMARY))
    client = openai.OpenAI(base_url=translated.gw.url + "/v1", api_key=TEST_KEY, max_retries=0)
    raw = await asyncio.to_thread(client.responses.with_raw_response.compact, model=translated.model,
                                  input="Remember: slate.")
    compacted = raw.parse()
    assert compacted.object == "response.compaction" and compacted.output[-1].type == "compaction"
    translated.fake.script(Behavior(text="slate"))
    reply = await asyncio.to_thread(client.responses.create, model=translated.model,
                                    input=[*json.loads(raw.content)["output"],
                                           {"role": "user", "content": "The code word?"}])
    assert reply.output_text == "slate"
    rows = await translated.gw.ledger_rows()
    assert [r["surface"] for r in rows] == ["unified", "unified"]


async def test_v1_answers_unknown_paths_and_methods_in_openai_shape(translated):
    status, raw = await translated.post("/assistants", {})
    assert status == 404
    validate_openai("ErrorResponse", json.loads(raw))
    async with aiohttp.ClientSession() as s, s.get(translated.base + "/responses",
                                                   headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        assert r.status == 405 and "POST" in r.headers["Allow"]
        validate_openai("ErrorResponse", await r.json())


def test_azure_openai_compacts_on_its_v1_path():
    azure = AzureOpenAIProvider(name="az", config=ProviderConfig(type="azure_openai",
                                                                 base_url="https://r.openai.azure.com"))
    assert azure.speaks("openai.responses.compact")
    assert azure.url("openai.responses.compact", "gpt-5") == "https://r.openai.azure.com/openai/v1/responses/compact"
