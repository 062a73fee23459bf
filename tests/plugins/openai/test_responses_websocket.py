"""Open Responses WebSocket mode, for every provider behind both Responses base URLs.

The public compliance suite's WebSocket cases (one response, sequential responses,
``store: false`` continuation, reconnect recovery, a missing previous response, a failed
continuation evicting the socket's memory, compaction into a new chain), written in the
project's own words, and what it does not cover yet: streamed tool calls and their
``function_call_output`` round trip over one socket, echoed ``previous_response_id``, bad
messages, credentials on the upgrade, and each turn being a request of its own (ledger,
metrics). Clients: the official ``openai`` SDK's ``responses.connect()``; every frame is
validated with ``openresponses-types`` (support/open_responses.py) and parsed by the SDK.
"""

from __future__ import annotations

import json

import pytest
from responses_compliance_support import SERVED, SERVED_IDS, serve, upstream_text
from responses_ws_support import connect
from support.behavior import Behavior, ToolCall
from support.gateway import TEST_KEY
from support.snippets import run_python

WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Get the current weather for a location",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                               "required": ["location"]}}


@pytest.fixture(params=SERVED, ids=SERVED_IDS)
async def served(request, tmp_path):
    async with serve(*request.param, tmp_path) as running:
        yield running


def text_of(response: dict) -> str:
    return "".join(c.get("text", "") for item in response["output"] if item["type"] == "message"
                   for c in item["content"])


# ---------------------------------------------------------------- the public suite's cases

async def test_one_response_streams_the_sse_routes_events(served):
    served.fake.script(Behavior(text="1, 2, 3", chunks=3))
    async with connect(served.base) as ws:
        turn = await ws.create(model=served.model, input=[{"type": "message", "role": "user",
                                                           "content": "Count from 1 to 3."}])
    types = [e["type"] for e in turn.events]
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    assert types.count("response.output_text.delta") == 3
    assert turn.response["status"] == "completed" and text_of(turn.response) == "1, 2, 3"
    last = served.fake.last                                      # the provider streamed: one relay path
    assert last.body.get("stream") is True or last.path.endswith(":streamGenerateContent")


async def test_sequential_responses_on_one_socket(served):
    served.fake.script(Behavior(text="first"), Behavior(text="second"))
    async with connect(served.base) as ws:
        one = await ws.create(model=served.model, store=False, input="Reply with exactly: first")
        two = await ws.create(model=served.model, store=False, input="Reply with exactly: second")
    assert (text_of(one.response), text_of(two.response)) == ("first", "second")
    assert one.response["id"] != two.response["id"]
    rows = await served.gw.ledger_rows()                         # each turn is a request of its own
    assert len(rows) == 2 and {r["status"] for r in rows} == {200} and len({r["request_id"] for r in rows}) == 2
    assert {r["provider"] for r in rows} == {served.provider}


async def test_store_false_continuation_sends_only_new_input(served):
    served.fake.script(Behavior(text="OK."), Behavior(text="cobalt"))
    async with connect(served.base) as ws:
        first = await ws.create(model=served.model, store=False,
                                input="Remember the code word: cobalt. Reply with OK.")
        second = await ws.create(model=served.model, store=False, previous_response_id=first.response["id"],
                                 input="What is the code word? Reply with only the code word.")
    assert text_of(second.response) == "cobalt"
    assert second.response["previous_response_id"] == first.response["id"]       # echoed, every snapshot
    assert all(e["response"]["previous_response_id"] == first.response["id"]
               for e in second.events if "response" in e)
    sent = upstream_text(served.fake)                            # the provider got the whole conversation
    for said in ("Remember the code word: cobalt.", "OK.", "What is the code word?"):
        assert said in sent
    assert "previous_response_id" not in served.fake.last.body


async def test_reconnect_cannot_continue_a_store_false_chain_and_recovers(served):
    async with connect(served.base) as ws:
        first = await ws.create(model=served.model, store=False, input="Remember: copper. Reply with OK.")
    async with connect(served.base) as ws:
        missed = await ws.create(model=served.model, store=False, previous_response_id=first.response["id"],
                                 input="Reply with exactly: reconnected")
        recovered = await ws.create(model=served.model, store=False, input="Start again: recovered")
    assert missed.error["error"]["code"] == "previous_response_not_found"
    assert missed.error["error"]["param"] == "previous_response_id"
    assert recovered.response["status"] == "completed"


async def test_unknown_previous_response_is_not_found_and_the_socket_goes_on(served):
    async with connect(served.base) as ws:
        missing = await ws.create(model=served.model, store=False, previous_response_id="resp_missing_123",
                                  input="This should fail.")
        after = await ws.create(model=served.model, store=False, input="Still there?")
    assert missing.error["status"] == 404 and missing.error["error"]["code"] == "previous_response_not_found"
    assert after.response["status"] == "completed"
    assert len(served.fake.requests) == 1                        # the refused turn never reached the provider


async def test_a_failed_continuation_evicts_the_response(served):
    async with connect(served.base) as ws:
        first = await ws.create(model=served.model, store=False, input="Remember: ember. Reply with OK.")
        rid = first.response["id"]
        failed = await ws.create(model=served.model, store=False, previous_response_id=rid, input=[
            {"type": "function_call_output", "call_id": "call_missing", "output": "no such call"}])
        retry = await ws.create(model=served.model, store=False, previous_response_id=rid,
                                input="Reply with exactly: stale")
    assert failed.error["status"] == 400 and "call_missing" in failed.error["error"]["message"]
    assert retry.error["error"]["code"] == "previous_response_not_found"


async def test_compaction_output_starts_a_new_chain(served):
    served.fake.script(Behavior(text="The user's code word is slate."), Behavior(text="compacted"))
    conversation = [{"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "Remember the compaction code word: slate."}]},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "OK."}]}]
    status, raw = await served.post("/responses/compact", {"model": served.model, "input": conversation})
    assert status == 200, raw
    compacted = json.loads(raw)["output"]
    async with connect(served.base) as ws:
        turn = await ws.create(model=served.model, store=False, tools=[], input=[
            *compacted, {"type": "message", "role": "user", "content": "Continue. Reply with exactly: compacted"}])
    assert text_of(turn.response) == "compacted" and turn.response["previous_response_id"] is None
    if served.provider != "openai":                              # the gateway's summary reached the model
        assert "The user's code word is slate." in upstream_text(served.fake)


# ---------------------------------------------------------------- beyond the public suite

async def test_streamed_tool_call_and_its_output_round_trip_on_one_socket(served):
    served.fake.script(Behavior(tool_calls=[ToolCall("get_weather", {"location": "Paris"}, "call_w1")], chunks=2),
                       Behavior(text="Sunny in Paris."))
    async with connect(served.base) as ws:
        first = await ws.create(model=served.model, store=False, tools=[WEATHER_TOOL],
                                input="What's the weather in Paris?")
        types = [e["type"] for e in first.events]
        assert "response.function_call_arguments.delta" in types
        assert "response.function_call_arguments.done" in types
        done = [e["item"] for e in first.events if e["type"] == "response.output_item.done"]
        call = next(i for i in done if i["type"] == "function_call")
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"location": "Paris"}
        second = await ws.create(model=served.model, store=False, tools=[WEATHER_TOOL],
                                 previous_response_id=first.response["id"],
                                 input=[{"type": "function_call_output", "call_id": call["call_id"],
                                         "output": '{"sky": "sunny"}'}])
    assert text_of(second.response) == "Sunny in Paris."
    sent = upstream_text(served.fake)
    assert "get_weather" in sent and "sunny" in sent and "What's the weather in Paris?" in sent


async def test_stored_chain_continues_on_a_new_socket(served):
    async with connect(served.base) as ws:
        first = await ws.create(model=served.model, input="Remember: basalt.")      # store defaults to true
    async with connect(served.base) as ws:
        second = await ws.create(model=served.model, previous_response_id=first.response["id"], input="Word?")
    assert second.response["status"] == "completed"
    assert second.response["previous_response_id"] == first.response["id"]


#: the README's WebSocket example, as a user's script (address and key from the environment)
README_SNIPPET = """
import asyncio
import os
from openai import AsyncOpenAI

async def main() -> None:
    client = AsyncOpenAI(base_url=os.environ["RELAYGATE_URL"] + "/v1", api_key=os.environ["RELAYGATE_TOKEN"])
    async with client.responses.connect() as conn:
        previous = None
        for question in ("Remember the word cobalt.", "What was the word?"):
            await conn.response.create(model="anthropic/claude-sonnet-4-6", store=False,
                                       previous_response_id=previous, input=question)
            async for event in conn:
                if event.type == "response.output_text.delta":
                    print(event.delta, end="")
                elif event.type == "response.completed":
                    previous = event.response.id
                    break
                elif event.type in ("response.failed", "error"):
                    raise SystemExit(str(event))
            print()

asyncio.run(main())
"""


async def test_the_readme_example_runs_as_written(tmp_path):
    async with serve("anthropic", "/v1", tmp_path) as served:
        served.fake.script(Behavior(text="Noted."), Behavior(text="cobalt"))
        ran = await run_python(README_SNIPPET, served.gw.url, TEST_KEY)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.splitlines() == ["Noted.", "cobalt"]
        assert "Remember the word cobalt." in upstream_text(served.fake)
