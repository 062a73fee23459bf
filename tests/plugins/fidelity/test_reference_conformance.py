"""Reference conformance: one test per row of the reference this suite covers, each over real HTTP
through the gateway to the fake providers, asserting what the provider received and what the client got.

Rows are named ``<Object>.<field>`` as the reference (Databricks Foundation Model REST API, .ja and
.sv editions) writes them.
"""

from __future__ import annotations

import base64
import json

import pytest
from fidelity_support import fidelity_gateway, post
from support.behavior import Behavior
from support.fake_anthropic import SIGNATURE
from support.specs import validate_openai

PDF_B64 = "JVBERi0xLjQK"
CITATION = {"type": "char_location", "cited_text": "Relaygate", "document_index": 0, "document_title": "Intro",
            "start_char_index": 0, "end_char_index": 9}


@pytest.fixture
async def gw(fake_anthropic, fake_gemini, fake_openai, tmp_path):
    async with fidelity_gateway(fake_anthropic, fake_gemini, fake_openai, tmp_path) as running:
        yield running


async def chat(gw, model: str, messages: list, **extra) -> tuple[int, dict, dict]:
    return await post(f"{gw.url}/mlflow/v1/chat/completions", {"model": model, "messages": messages, **extra})


def assert_named_400(status: int, body: dict, param: str) -> None:
    assert status == 400, body
    assert validate_openai("ErrorResponse", body)["error"]["param"] == param


# ---------------------------------------------------------------- ContentItem rows (.ja edition)

async def test_DocumentContent_source_base64_reaches_claude_as_a_document_block(gw, fake_anthropic):
    doc = {"type": "document", "title": "Intro", "context": "notes", "citations": {"enabled": True},
           "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}
    status, body, _ = await chat(gw, "claude", [{"role": "user", "content": [doc, {"type": "text", "text": "Sum?"}]}])
    assert status == 200, body
    assert fake_anthropic.last.body["messages"][0]["content"][0] == {
        "type": "document", "title": "Intro", "context": "notes", "citations": {"enabled": True},
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}


@pytest.mark.parametrize(("source", "block_source"), [
    ({"type": "text", "media_type": "text/plain", "data": "Relaygate routes."},
     {"type": "text", "media_type": "text/plain", "data": "Relaygate routes."}),
    ({"type": "url", "url": "https://example.com/a.pdf"}, {"type": "url", "url": "https://example.com/a.pdf"}),
    ({"type": "content", "content": [{"type": "text", "text": "chunk"}]},
     {"type": "content", "content": [{"type": "text", "text": "chunk"}]}),
    ({"type": "content", "content": "one string"}, {"type": "content", "content": "one string"}),
])
async def test_DocumentContent_every_source_reaches_claude(gw, fake_anthropic, source, block_source):
    status, body, _ = await chat(gw, "claude", [{"role": "user", "content": [{"type": "document", "source": source}]}])
    assert status == 200, body
    assert fake_anthropic.last.body["messages"][0]["content"] == [{"type": "document", "source": block_source}]


@pytest.mark.parametrize(("source", "parts"), [
    ({"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
     [{"inlineData": {"mimeType": "application/pdf", "data": PDF_B64}}]),
    ({"type": "text", "media_type": "text/plain", "data": "Relaygate routes."},
     [{"inlineData": {"mimeType": "text/plain", "data": base64.b64encode(b"Relaygate routes.").decode()}}]),
    ({"type": "url", "url": "https://example.com/a.pdf"},
     [{"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}}]),
    ({"type": "content", "content": [{"type": "text", "text": "chunk"}]}, [{"text": "chunk"}]),
])
async def test_DocumentContent_every_source_reaches_gemini_as_inline_or_file_data(gw, fake_gemini, source, parts):
    doc = {"type": "document", "title": "Intro", "source": source}
    status, body, _ = await chat(gw, "gem", [{"role": "user", "content": [doc]}])
    assert status == 200, body
    assert fake_gemini.last.body["contents"][0]["parts"] == [{"text": "Intro"}, *parts]


async def test_DocumentContent_citations_enabled_is_named_on_gemini(gw, fake_gemini):
    doc = {"type": "document", "citations": {"enabled": True},
           "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}
    status, body, _ = await chat(gw, "gem", [{"role": "user", "content": [doc]}])
    assert_named_400(status, body, "messages.content.document.citations")
    status, _, headers = await chat(gw, "gem-drop", [{"role": "user", "content": [doc]}])
    assert status == 200 and "messages.content.document.citations" in headers["x-relaygate-dropped"]


async def test_TextContent_citations_reach_claude_in_an_assistant_turn(gw, fake_anthropic):
    messages = [{"role": "user", "content": "What is it?"},
                {"role": "assistant", "content": [{"type": "text", "text": "A gateway.", "citations": [CITATION]}]},
                {"role": "user", "content": "More?"}]
    status, body, _ = await chat(gw, "claude", messages)
    assert status == 200, body
    assert fake_anthropic.last.body["messages"][1]["content"] == [
        {"type": "text", "text": "A gateway.", "citations": [CITATION]}]


async def test_TextContent_citations_are_named_where_a_provider_has_none(gw, fake_gemini, fake_openai):
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi", "citations": [CITATION]}]}]
    for model in ("gem", "gpt"):
        status, body, _ = await chat(gw, model, messages)
        assert_named_400(status, body, "messages.content.text.citations")
    assert fake_gemini.requests == [] and fake_openai.requests == []


async def test_ReasoningContent_with_signature_goes_back_to_claude_as_thinking(gw, fake_anthropic):
    reasoning = {"type": "reasoning", "summary": [
        {"type": "summary_text", "text": "Compare both.", "signature": SIGNATURE},
        {"type": "summary_encrypted_text", "data": "cmVkYWN0ZWQ="}]}
    messages = [{"role": "user", "content": "Which?"},
                {"role": "assistant", "content": [{"type": "text", "text": "The first."}, reasoning]},
                {"role": "user", "content": "Why?"}]
    status, body, _ = await chat(gw, "claude", messages)
    assert status == 200, body
    assert fake_anthropic.last.body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Compare both.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="},
        {"type": "text", "text": "The first."}]


async def test_ReasoningContent_without_signature_is_named_for_claude(gw, fake_anthropic):
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Compare both."}]}
    messages = [{"role": "user", "content": "Which?"}, {"role": "assistant", "content": [reasoning]},
                {"role": "user", "content": "Why?"}]
    status, body, _ = await chat(gw, "claude", messages)
    assert_named_400(status, body, "messages.content.reasoning.summary.signature")
    assert fake_anthropic.requests == []


async def test_ReasoningContent_reaches_gemini_as_thought_parts_with_their_signature(gw, fake_gemini):
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Think.", "signature": "c2ln"}]}
    messages = [{"role": "user", "content": "Q"},
                {"role": "assistant", "content": [reasoning, {"type": "text", "text": "A"}]},
                {"role": "user", "content": "Q2"}]
    status, body, _ = await chat(gw, "gem", messages)
    assert status == 200, body
    assert fake_gemini.last.body["contents"][1] == {"role": "model", "parts": [
        {"text": "Think.", "thought": True, "thoughtSignature": "c2ln"}, {"text": "A"}]}


async def test_ReasoningContent_encrypted_summary_is_named_on_gemini(gw, fake_gemini):
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_encrypted_text", "data": "eA=="}]}
    messages = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": [reasoning]},
                {"role": "user", "content": "Q2"}]
    status, body, _ = await chat(gw, "gem", messages)
    assert_named_400(status, body, "messages.content.reasoning.summary_encrypted_text")


async def test_FileContent_reaches_claude_and_gemini(gw, fake_anthropic, fake_gemini):
    part = {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF_B64}"}}
    for model in ("claude", "gem"):
        status, body, _ = await chat(gw, model, [{"role": "user", "content": [part]}])
        assert status == 200, body
    assert fake_anthropic.last.body["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
         "title": "a.pdf"}]
    assert fake_gemini.last.body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "application/pdf", "data": PDF_B64}}]


# ---------------------------------------------------------------- chat request rows

async def test_ChatRequest_max_tokens_null_is_the_claude_models_maximum(gw, fake_anthropic):
    for extra in ({}, {"max_tokens": None}):
        status, body, _ = await chat(gw, "claude", [{"role": "user", "content": "Hi"}], **extra)
        assert status == 200, body
        assert fake_anthropic.last.body["max_tokens"] == 64000        # claude-sonnet-4-6's output limit
    status, _, _ = await chat(gw, "claude", [{"role": "user", "content": "Hi"}], max_tokens=256)
    assert fake_anthropic.last.body["max_tokens"] == 256


async def test_ChatRequest_top_k_reaches_claude_and_gemini_and_is_named_for_openai(gw, fake_anthropic, fake_gemini,
                                                                                 fake_openai):
    msgs = [{"role": "user", "content": "Hi"}]
    assert (await chat(gw, "claude", msgs, top_k=5))[0] == 200 and fake_anthropic.last.body["top_k"] == 5
    assert (await chat(gw, "gem", msgs, top_k=5))[0] == 200
    assert fake_gemini.last.body["generationConfig"]["topK"] == 5
    status, body, _ = await chat(gw, "gpt", msgs, top_k=5)
    assert_named_400(status, body, "top_k")
    assert fake_openai.requests == []
    status, _, headers = await chat(gw, "gpt-drop", msgs, top_k=5)
    assert status == 200 and headers["x-relaygate-dropped"] == "top_k" and "top_k" not in fake_openai.last.body
    assert (await chat(gw, "compat", msgs, top_k=5))[0] == 200 and fake_openai.last.body["top_k"] == 5


async def test_ChatRequest_n_checks_the_endpoints_max_n(gw, fake_gemini):
    status, body, _ = await chat(gw, "gem", [{"role": "user", "content": "Hi"}], n=5)
    assert_named_400(status, body, "n")
    assert fake_gemini.requests == []
    assert (await chat(gw, "gem", [{"role": "user", "content": "Hi"}], n=2))[0] == 200
    assert fake_gemini.last.body["generationConfig"]["candidateCount"] == 2


@pytest.mark.parametrize(("call", "param"), [
    ({"type": "function", "function": {"name": "f", "arguments": "{}"}}, "messages[0].tool_calls[0].id"),
    ({"id": "c1", "function": {"name": "f", "arguments": "{}"}}, "messages[0].tool_calls[0].type"),
    ({"id": "c1", "type": "function", "function": {"arguments": "{}"}}, "messages[0].tool_calls[0].function.name"),
    ({"id": "c1", "type": "function", "function": {"name": "f"}}, "messages[0].tool_calls[0].function.arguments"),
])
async def test_ToolCall_id_type_and_function_are_required(gw, fake_anthropic, call, param):
    messages = [{"role": "assistant", "tool_calls": [call]}, {"role": "tool", "tool_call_id": "c1", "content": "x"}]
    status, body, _ = await chat(gw, "claude", messages)
    assert_named_400(status, body, param)


async def test_JsonSchemaObject_name_and_schema_are_required(gw):
    base = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    msgs = [{"role": "user", "content": "Hi"}]
    for drop, param in (("name", "response_format.json_schema.name"),
                        ("schema", "response_format.json_schema.schema")):
        rf = {**base, "json_schema": {k: v for k, v in base["json_schema"].items() if k != drop}}
        status, body, _ = await chat(gw, "gem", msgs, response_format=rf)
        assert_named_400(status, body, param)
    # /v1 follows OpenAI: a schema is optional there, the name is not
    no_schema = {**base, "json_schema": {"name": "answer"}}
    status, _, _ = await post(f"{gw.url}/v1/chat/completions", {"model": "gem", "messages": msgs,
                                                                  "response_format": no_schema})
    assert status == 200


async def test_FunctionObject_parameters_allow_at_most_15_properties(gw):
    def tool(n: int) -> dict:
        props = {f"p{i}": {"type": "string"} for i in range(n)}
        return {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": props}}}
    msgs = [{"role": "user", "content": "Hi"}]
    assert (await chat(gw, "claude", msgs, tools=[tool(15)]))[0] == 200
    status, body, _ = await chat(gw, "claude", msgs, tools=[tool(16)])
    assert_named_400(status, body, "tools[0].function.parameters.properties")
    # the .sv edition's limit is the reference's; /v1 takes what OpenAI takes
    assert (await post(f"{gw.url}/v1/chat/completions", {"model": "claude", "messages": msgs,
                                                          "tools": [tool(16)]}))[0] == 200


async def test_ChatCompletionChoice_extra_fields_carry_gemini_safety_ratings(gw, fake_gemini):
    ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP",
                              "index": 0, "safetyRatings": ratings}],
              "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
              "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    fake_gemini.script(Behavior(body=answer))
    status, body, _ = await chat(gw, "gem", [{"role": "user", "content": "Hi"}])
    assert status == 200
    assert validate_openai("CreateChatCompletionResponse", body)["choices"][0]["extra_fields"] == {
        "safetyRatings": ratings}


# ---------------------------------------------------------------- Responses rows (.sv edition)

async def responses(gw, model: str, **body) -> tuple[int, dict, dict]:
    return await post(f"{gw.url}/v1/responses", {"model": model, "store": False, **body})


@pytest.mark.parametrize("model", ["claude", "gem", "gpt"])
async def test_FunctionCallOutput_output_as_an_object(gw, fake_anthropic, fake_gemini, fake_openai, model):
    items = [{"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": {"q": 1}},
             {"type": "function_call_output", "call_id": "c1", "output": {"temp": 21}}]
    status, body, _ = await responses(gw, model, input=items)
    assert status == 200, body
    validate_openai("Response", body)
    sent = {"claude": fake_anthropic, "gem": fake_gemini, "gpt": fake_openai}[model].last.body
    if model == "claude":
        assert sent["messages"][1]["content"][0] == {"type": "tool_result", "tool_use_id": "c1",
                                                     "content": '{"temp":21}'}
    elif model == "gem":
        assert sent["contents"][1]["parts"][0]["functionResponse"]["response"] == {"output": '{"temp":21}'}
    else:
        assert sent["input"][1]["output"] == '{"temp":21}' and sent["input"][0]["arguments"] == '{"q":1}'


@pytest.mark.parametrize("model", ["claude", "gem", "gpt"])
async def test_ToolObject_nested_function_form(gw, fake_anthropic, fake_gemini, fake_openai, model):
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                             "parameters": {"type": "object",
                                                            "properties": {"city": {"type": "string"}}}}}
    choice = {"type": "function", "function": {"name": "get_weather"}}
    status, body, _ = await responses(gw, model, input="Weather in Oslo?", tools=[tool], tool_choice=choice)
    assert status == 200, body
    assert validate_openai("Response", body)["tools"][0]["name"] == "get_weather"
    sent = {"claude": fake_anthropic, "gem": fake_gemini, "gpt": fake_openai}[model].last.body
    if model == "claude":
        assert sent["tools"][0]["name"] == "get_weather" and sent["tool_choice"]["name"] == "get_weather"
    elif model == "gem":
        assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
        assert sent["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] == ["get_weather"]
    else:
        assert sent["tools"][0] == {"type": "function", "name": "get_weather", "description": "Weather by city",
                                    "parameters": tool["function"]["parameters"]}
        assert sent["tool_choice"] == {"type": "function", "name": "get_weather"}


@pytest.mark.parametrize("model", ["claude", "gem", "gpt"])
async def test_ResponsesFormatObject_nested_json_schema(gw, fake_anthropic, fake_gemini, fake_openai, model):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}
    status, body, _ = await responses(gw, model, input="Where?", text={"format": fmt})
    assert status == 200, body
    assert validate_openai("Response", body)["text"]["format"]["schema"] == schema
    sent = {"claude": fake_anthropic, "gem": fake_gemini, "gpt": fake_openai}[model].last.body
    if model == "claude":
        assert sent["output_config"]["format"]["schema"] == schema
    elif model == "gem":
        assert sent["generationConfig"]["responseJsonSchema"] == schema
    else:
        assert sent["text"]["format"] == {"type": "json_schema", "name": "place", "schema": schema, "strict": True}


async def test_ResponsesFormatObject_json_schema_needs_a_name(gw):
    fmt = {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
    status, body, _ = await responses(gw, "claude", input="Hi", text={"format": fmt})
    assert_named_400(status, body, "text.format.name")


async def test_ResponsesAPI_parallel_tool_calls_is_a_boolean_in_translated_answers(gw):
    status, body, _ = await responses(gw, "claude", input="Hi")
    assert status == 200 and body["parallel_tool_calls"] is True
    status, body, _ = await responses(gw, "gem", input="Hi", parallel_tool_calls=None)
    assert status == 200 and body["parallel_tool_calls"] is True
    assert not [k for k, v in body.items() if v is None and k not in REQUIRED_NULLABLE_RESPONSE_KEYS]


#: keys of a Response object the spec requires even when null
REQUIRED_NULLABLE_RESPONSE_KEYS = {"incomplete_details", "previous_response_id", "instructions", "error",
                                   "max_output_tokens", "max_tool_calls", "safety_identifier", "prompt_cache_key",
                                   "completed_at", "usage"}


# ---------------------------------------------------------------- completions and embeddings rows

async def test_CompletionRequest_top_k_reaches_claude_and_gemini(gw, fake_anthropic, fake_gemini):
    for model in ("c-claude", "c-gem"):
        status, body, _ = await post(f"{gw.url}/v1/completions", {"model": model, "prompt": "Say A", "top_k": 3})
        assert status == 200, body
    assert fake_anthropic.last.body["top_k"] == 3
    assert fake_gemini.last.body["generationConfig"]["topK"] == 3


async def test_CompletionRequest_error_behavior_truncate_is_named_on_chat_models(gw, fake_gemini):
    status, body, _ = await post(f"{gw.url}/v1/completions", {"model": "c-gem", "prompt": "A",
                                                               "error_behavior": "truncate"})
    assert_named_400(status, body, "error_behavior")
    assert fake_gemini.requests == []


async def test_CompletionRequest_a_list_of_prompts_is_named_on_chat_models(gw, fake_anthropic):
    status, body, _ = await post(f"{gw.url}/v1/completions", {"model": "c-claude", "prompt": ["A", "B"]})
    assert_named_400(status, body, "prompt")
    status, body, _ = await post(f"{gw.url}/v1/completions", {"model": "c-claude", "prompt": ["A"]})
    assert status == 200 and fake_anthropic.last.body["messages"][0]["content"][0]["text"] == "A"


@pytest.mark.parametrize("model", ["e-gem", "e-gpt"])
async def test_EmbeddingsResponse_has_an_id(gw, model):
    status, body, _ = await post(f"{gw.url}/mlflow/v1/embeddings", {"model": model, "input": "What is it?"})
    assert status == 200, body
    validate_openai("CreateEmbeddingResponse", body)
    assert isinstance(body["id"], str) and body["id"].startswith("emb-")


async def test_EmbeddingsRequest_token_ids_on_gemini_are_a_400_naming_input(gw, fake_gemini):
    for tokens in ([[9906, 1917]], [9906, 1917]):
        for endpoint in ("e-gem",):
            status, body, _ = await post(f"{gw.url}/v1/embeddings", {"model": endpoint, "input": tokens})
            assert_named_400(status, body, "input")
            assert "token ids" in body["error"]["message"]
    assert fake_gemini.requests == []


# ---------------------------------------------------------------- Anthropic API versions

async def test_the_provider_sends_its_configured_anthropic_version(gw, fake_anthropic):
    await chat(gw, "claude", [{"role": "user", "content": "Hi"}])
    assert fake_anthropic.last.headers["anthropic-version"] == "2023-06-01"
    await chat(gw, "claude-2026", [{"role": "user", "content": "Hi"}])
    assert fake_anthropic.last.headers["anthropic-version"] == "2026-10-21"


async def test_api_2026_10_21_sampling_defaults_are_left_out_and_other_values_named(gw, fake_anthropic):
    msgs = [{"role": "user", "content": "Hi"}]
    status, body, _ = await chat(gw, "claude-2026", msgs, temperature=1, top_p=1)
    assert status == 200, body
    assert not {"temperature", "top_p", "top_k"} & set(fake_anthropic.last.body)
    status, body, _ = await chat(gw, "claude-2026", msgs, temperature=0.2)
    assert_named_400(status, body, "temperature")
    status, body, headers = await chat(gw, "claude-2026-drop", msgs, temperature=0.2, top_k=3)
    assert status == 200 and headers["x-relaygate-dropped"] == "temperature,top_k"
    # the same values reach a provider on the older version
    assert (await chat(gw, "claude", msgs, temperature=0.2))[0] == 200
    assert fake_anthropic.last.body["temperature"] == 0.2


async def test_api_2026_10_21_user_citations_and_assistant_documents_are_fitted(gw, fake_anthropic):
    text_doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Earlier."}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "See", "citations": [CITATION]}]},
                {"role": "assistant", "content": [text_doc]},
                {"role": "user", "content": "Go on"}]
    status, body, headers = await chat(gw, "claude-2026", messages)
    assert status == 200, body                       # the fake refuses both on 2026-10-21
    sent = fake_anthropic.last.body["messages"]
    assert sent[0]["content"] == [{"type": "text", "text": "See"}]
    assert sent[1]["content"] == [{"type": "text", "text": "Earlier."}]
    assert headers["x-relaygate-dropped"] == "messages.content.citations"
    pdf_doc = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}
    status, body, _ = await chat(gw, "claude-2026", [messages[0], {"role": "assistant", "content": [pdf_doc]},
                                                     messages[2]])
    assert_named_400(status, body, "messages.content.document")


async def test_a_native_anthropic_client_keeps_its_own_version(gw, fake_anthropic):
    status, body, _ = await post(f"{gw.url}/anthropic/v1/messages",
                                 {"model": "claude-2026", "max_tokens": 16, "messages": [{"role": "user",
                                                                                          "content": "Hi"}]},
                                 headers={"anthropic-version": "2023-06-01"})
    assert status == 200, body
    assert fake_anthropic.last.headers["anthropic-version"] == "2023-06-01"
    assert json.loads(fake_anthropic.last.raw_body)["max_tokens"] == 16


# ---------------------------------------------------------------- Gemini parts from a Gemini client

async def test_gemini_inline_and_file_data_reach_claude_natively(gw, fake_anthropic):
    parts = [{"inlineData": {"mimeType": "application/pdf", "data": PDF_B64}},
             {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}},
             {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
             {"text": "Compare."}]
    status, body, _ = await post(f"{gw.url}/gemini/v1beta/models/claude:generateContent",
                                 {"contents": [{"role": "user", "parts": parts}]})
    assert status == 200, body
    assert fake_anthropic.last.body["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "Compare."}]


async def test_CompletionRequest_top_k_is_named_for_openai(gw, fake_openai):
    status, body, _ = await post(f"{gw.url}/v1/completions", {"model": "c-gpt", "prompt": "A", "top_k": 3})
    assert_named_400(status, body, "top_k")
    assert fake_openai.requests == []


async def test_ToolObject_nested_form_is_stored_as_openai_shapes(gw, fake_anthropic):
    """Stored and translated alike: the follow-up turn (previous_response_id) replays the flat tool."""
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    fake_anthropic.script(Behavior(tool_calls=[{"name": "lookup", "arguments": {}, "id": "toolu_1"}]),
                          Behavior(text="done"))
    status, first, _ = await post(f"{gw.url}/v1/responses", {"model": "claude", "input": "Look it up",
                                                             "tools": [tool], "store": True})
    assert status == 200, first
    call = next(i for i in first["output"] if i["type"] == "function_call")
    status, second, _ = await post(f"{gw.url}/v1/responses", {
        "model": "claude", "previous_response_id": first["id"], "tools": [tool], "store": True,
        "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": {"found": True}}]})
    assert status == 200, second
    sent = fake_anthropic.last.body
    assert sent["tools"][0]["name"] == "lookup"
    assert sent["messages"][-1]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_1",
                                                  "content": '{"found":true}'}
    assert validate_openai("Response", second)["tools"][0]["name"] == "lookup"
