"""Open Responses compliance over real HTTP, for every provider behind both Responses base URLs.

The HTTP cases of the public Open Responses compliance suite (basic text, streaming, system
prompt, tool calling plain and streamed, image input, multi-turn, assistant phase labels; its
compaction cases are in test_responses_compaction.py), written here in the project's own
words, and what it does not check yet: instructions, developer messages, reasoning, structured
output, the output token limit, echoed settings and metadata, function_call_output round
trips, previous_response_id, bad requests and error events. Each case runs against a fake
OpenAI (passthrough), Anthropic and Gemini (translated) behind ``/openai/v1`` and ``/v1``;
every Response object and every streaming event is validated with ``openresponses-types``
(support/open_responses.py).
"""

from __future__ import annotations

import json

import pytest
from responses_compliance_support import SERVED, SERVED_IDS, LENGTH_FINISH, output_text, serve, upstream_text
from support.behavior import Behavior, ToolCall, Usage
from support.open_responses import validate_event, validate_stream

WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Get the current weather for a location",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                               "required": ["location"]}}
WEATHER_CALL = ToolCall("get_weather", {"location": "San Francisco, CA"})
#: a 2x2 red PNG
PNG = ("data:image/png;base64,"
       "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==")


@pytest.fixture(params=SERVED, ids=SERVED_IDS)
async def served(request, tmp_path):
    async with serve(*request.param, tmp_path) as running:
        yield running


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": text}


def collapsed(types: list[str]) -> list[str]:
    """Event types with runs of the same type (deltas) shown once."""
    return [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]


# ---------------------------------------------------------------- the public suite's cases

async def test_basic_text_response(served):
    served.fake.script(Behavior(text="Hello there, friend.", usage=Usage(input_tokens=11, output_tokens=5)))
    response = await served.create(input=[user("Say hello in exactly 3 words.")])
    assert response["status"] == "completed" and response["object"] == "response"
    assert output_text(response) == "Hello there, friend."
    usage = response["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (11, 5, 16)
    assert usage["input_tokens_details"]["cached_tokens"] == 0
    assert usage["output_tokens_details"]["reasoning_tokens"] == 0
    rows = await served.gw.ledger_rows()
    assert len(rows) == 1 and rows[0]["provider"] == served.provider and rows[0]["cost_usd"] > 0


async def test_streaming_response_events_in_order(served):
    served.fake.script(Behavior(text="1, 2, 3, 4, 5", chunks=5))
    events, final = await served.stream(input=[user("Count from 1 to 5.")])
    assert collapsed([e["type"] for e in events]) == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert deltas == done["text"] == output_text(final) == "1, 2, 3, 4, 5"
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["usage"] is None
    assert final["status"] == "completed" and final["usage"]["total_tokens"] > 0
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1


async def test_system_prompt(served):
    served.fake.script(Behavior(text="Ahoy, matey!"))
    response = await served.create(input=[
        {"type": "message", "role": "system", "content": "You are a pirate. Always respond in pirate speak."},
        user("Say hello.")])
    assert response["status"] == "completed" and output_text(response) == "Ahoy, matey!"
    assert "You are a pirate." in upstream_text(served.fake)


async def test_tool_calling(served):
    served.fake.script(Behavior(tool_calls=[WEATHER_CALL]))
    response = await served.create(input=[user("What's the weather like in San Francisco?")], tools=[WEATHER_TOOL])
    calls = [item for item in response["output"] if item["type"] == "function_call"]
    assert len(calls) == 1 and calls[0]["name"] == "get_weather" and calls[0]["call_id"]
    assert json.loads(calls[0]["arguments"]) == {"location": "San Francisco, CA"}
    assert [t["name"] for t in response["tools"]] == ["get_weather"]


async def test_tool_calling_streamed(served):
    served.fake.script(Behavior(tool_calls=[WEATHER_CALL], chunks=4))
    events, final = await served.stream(input=[user("What's the weather like in San Francisco?")],
                                        tools=[WEATHER_TOOL])
    added = [e for e in events if e["type"] == "response.output_item.added" and e["item"]["type"] == "function_call"]
    done = [e for e in events if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"]
    assert len(added) == len(done) == 1 and added[0]["item"]["status"] == "in_progress"
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert deltas and "".join(e["delta"] for e in deltas) == args_done["arguments"]
    assert json.loads(args_done["arguments"]) == {"location": "San Francisco, CA"}
    assert done[0]["item"]["arguments"] == args_done["arguments"] and done[0]["item"]["status"] == "completed"
    assert any(i["type"] == "function_call" for i in final["output"])


async def test_image_input(served):
    served.fake.script(Behavior(text="A red square."))
    response = await served.create(input=[{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "What do you see in this image? Answer in one sentence."},
        {"type": "input_image", "image_url": PNG}]}])
    assert response["status"] == "completed" and output_text(response) == "A red square."
    assert "iVBORw0KGgo" in upstream_text(served.fake)          # the image reached the provider


async def test_multi_turn_conversation(served):
    served.fake.script(Behavior(text="Your name is Alice."))
    response = await served.create(input=[
        user("My name is Alice."),
        {"type": "message", "role": "assistant", "content": "Hello Alice! Nice to meet you."},
        user("What is my name?")])
    assert output_text(response) == "Your name is Alice."
    sent = upstream_text(served.fake)
    assert "My name is Alice." in sent and "Hello Alice! Nice to meet you." in sent and "What is my name?" in sent


async def test_assistant_history_with_phase_labels(served):
    served.fake.script(Behavior(text="four"))
    response = await served.create(input=[
        {"type": "message", "role": "assistant", "phase": "commentary", "content": "I should answer with the number."},
        {"type": "message", "role": "assistant", "phase": "final_answer", "content": "The number is four."},
        user("Repeat only the number.")])
    assert response["status"] == "completed" and output_text(response) == "four"
    assert "The number is four." in upstream_text(served.fake)


# ---------------------------------------------------------------- beyond the public suite

async def test_instructions_and_developer_messages(served):
    served.fake.script(Behavior(text="Brief."))
    response = await served.create(instructions="Answer in one word.", input=[
        {"type": "message", "role": "developer", "content": "Never use emoji."}, user("Describe the sea.")])
    assert response["instructions"] == "Answer in one word."
    sent = upstream_text(served.fake)
    assert "Answer in one word." in sent and "Never use emoji." in sent


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_reasoning(served, stream):
    served.fake.script(Behavior(reasoning="The user wants a number.", text="42",
                                usage=Usage(output_tokens=9, reasoning_tokens=4)))
    body = {"input": [user("Pick a number.")], "reasoning": {"effort": "medium"}}
    if stream:
        events, response = await served.stream(**body)
        summary = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
        assert summary == "The user wants a number."
    else:
        response = await served.create(**body)
    reasoning = [i for i in response["output"] if i["type"] == "reasoning"]
    assert len(reasoning) == 1 and reasoning[0]["summary"][0]["text"] == "The user wants a number."
    assert output_text(response) == "42" and response["reasoning"]["effort"] == "medium"
    if served.provider != "anthropic":                  # Anthropic does not count thinking tokens apart
        assert response["usage"]["output_tokens_details"]["reasoning_tokens"] == 4


async def test_structured_output_json_schema(served):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    served.fake.script(Behavior(text='{"city": "Paris"}'))
    response = await served.create(input=[user("Where is the Eiffel Tower?")], text={"format": {
        "type": "json_schema", "name": "place", "schema": schema, "strict": True}})
    assert json.loads(output_text(response)) == {"city": "Paris"}
    fmt = response["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["schema"], fmt["strict"]) == ("json_schema", "place", schema, True)
    assert '"city"' in upstream_text(served.fake)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_max_output_tokens_gives_an_incomplete_response(served, stream):
    served.fake.script(Behavior(text="Once upon a", finish_reason=LENGTH_FINISH[served.provider]))
    body = {"input": [user("Tell me a long story.")], "max_output_tokens": 16}
    if stream:
        events, response = await served.stream(**body)
        assert events[-1]["type"] == "response.incomplete"
    else:
        response = await served.create(**body)
    assert response["status"] == "incomplete" and response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["max_output_tokens"] == 16 and output_text(response) == "Once upon a"


async def test_sampling_settings_and_metadata_are_echoed(served):
    served.fake.script(Behavior(text="ok"))
    response = await served.create(input=[user("hi")], temperature=0.5, top_p=0.9, metadata={"run": "42"},
                                   tool_choice="none", tools=[WEATHER_TOOL])
    assert (response["temperature"], response["top_p"]) == (0.5, 0.9)
    assert response["metadata"] == {"run": "42"}
    assert response["parallel_tool_calls"] is True and response["tool_choice"] == "none"
    assert (response["presence_penalty"], response["frequency_penalty"]) == (0.0, 0.0)


async def test_function_call_output_round_trip(served):
    served.fake.script(Behavior(tool_calls=[WEATHER_CALL]), Behavior(text="It is 18 degrees in San Francisco."))
    first = await served.create(input=[user("What's the weather like in San Francisco?")], tools=[WEATHER_TOOL])
    call = next(i for i in first["output"] if i["type"] == "function_call")
    second = await served.create(tools=[WEATHER_TOOL], input=[
        user("What's the weather like in San Francisco?"), call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": '{"temperature_c": 18}'}])
    assert output_text(second) == "It is 18 degrees in San Francisco."
    sent = upstream_text(served.fake)
    assert call["call_id"] in sent or served.provider == "gemini"    # Gemini pairs calls by name and order
    assert "temperature_c" in sent and "get_weather" in sent


async def test_previous_response_id_continues_the_stored_chain(served):
    served.fake.script(Behavior(text="Noted: the code word is cobalt."), Behavior(text="cobalt"))
    first = await served.create(input="Remember the code word: cobalt.")
    assert first["store"] is True
    second = await served.create(input="What is the code word?", previous_response_id=first["id"])
    assert output_text(second) == "cobalt"
    assert second["previous_response_id"] == first["id"]          # echoed, translated or not
    sent = upstream_text(served.fake)
    if served.provider == "openai":
        assert served.fake.last.body["previous_response_id"] == first["id"]   # OpenAI keeps its own chain
    else:
        assert "Remember the code word: cobalt." in sent and "Noted: the code word is cobalt." in sent
        assert "previous_response_id" not in sent                 # the provider gets the conversation itself
    # streamed: every Response snapshot echoes it
    events, third = await served.stream(input="Again?", previous_response_id=second["id"])
    snapshots = [e["response"] for e in events if "response" in e]
    assert snapshots and all(r["previous_response_id"] == second["id"] for r in snapshots)
    # an id this gateway never issued (or another key's) is not found, as OpenAI says it
    error = await served.refused("/responses", {"model": served.model, "input": "x",
                                                "previous_response_id": "resp_unknown"}, status=404)
    assert error["param"] == "previous_response_id" and error["code"] == "previous_response_not_found"


@pytest.mark.parametrize(("body", "param"), [
    ({"temperature": 3}, "temperature"),
    ({"input": [{"type": "message", "role": "robot", "content": "hi"}]}, "input[0].role"),
    ({"tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": None}, "model"),
])
async def test_bad_requests_get_a_400_in_openai_shape_naming_the_field(served, body, param):
    error = await served.refused("/responses", {"model": served.model, "input": "hi", **body})
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]
    assert served.fake.requests == []


async def test_an_unknown_model_gets_a_404_naming_model(served):
    error = await served.refused("/responses", {"model": "nowhere/model", "input": "hi"}, 404)
    assert error["param"] == "model"


async def test_a_broken_stream_ends_with_an_error_event_and_one_response_failed(served):
    served.fake.script(Behavior(text="a b c d e f", chunks=6, break_after=4))
    status, raw = await served.post("/responses", {"model": served.model, "input": "hi", "stream": True})
    assert status == 200
    events = validate_stream(raw)
    error, failed = events[-2:]
    assert error["type"] == "error" and error["error"]["message"] and error["message"] == error["error"]["message"]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert failed["response"]["id"] == events[0]["response"]["id"]


async def test_a_provider_error_mid_stream_becomes_error_then_response_failed(served):
    if served.provider == "openai":
        pytest.skip("passthrough relays OpenAI's own error events byte for byte")
    served.fake.script(Behavior(text="a b c d e f", chunks=6, stream_error_after=3))
    events, final = await served.stream(input="hi")
    error = events[-2]
    assert error["type"] == "error" and error["error"]["message"]
    validate_event(error)
    assert final["status"] == "failed" and final["error"]["message"]
