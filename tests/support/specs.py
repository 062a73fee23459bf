"""Wire-format validators for the three provider formats, built on the official SDKs' typed models.

Every body and stream event is checked against the model the provider's own SDK parses it
into (``openai``, ``anthropic`` and ``google-genai`` are pinned test dependencies), as JSON
and in pydantic's strict mode: required fields must be there, types must match exactly (no
``"1"`` for ``1``, no ``2.5`` for an integer), and literals and enums (``finish_reason``,
``stop_reason``, ``finishReason``, event ``type``...) must hold one of their values.

Where the SDKs are lenient, this module is stricter in three places and lenient in one:

* Fields the wire always carries (possibly as ``null``) that an SDK model leaves optional:
  the checks in ``_MUST_HAVE`` require the ones clients rely on, e.g. ``finish_reason: null``
  on an intermediate chat chunk, ``param``/``code`` of an OpenAI error, ``stop_reason`` and
  ``stop_sequence`` of an Anthropic message, exactly one payload per Gemini part. (Every
  google-genai field is optional.)
* google-genai keeps an enum value it does not know and only warns; here that warning is an error.
* Unions (``ResponseStreamEvent``, ``MessageStreamEvent``) are resolved by ``type`` first, so an
  unknown type fails and errors name the one member that was meant.
* Fields an SDK does not know are accepted, as the SDKs themselves accept them (google-genai
  strips them before parsing; openai and anthropic keep them).

Bodies are named as in the providers' API references (``validate_openai("ErrorResponse", body)``);
each name maps to one SDK model (or a small wrapper of SDK models) in ``_MODELS``.
"""
from __future__ import annotations

import json
import re
import typing
import warnings
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, Literal

import anthropic.types as anthropic_types
import openai.types as openai_types
import pydantic
from google.genai import types as genai_types
from openai.types import chat as openai_chat
from openai.types import responses as openai_responses

# ---------------------------------------------------------------- wrappers the SDKs have no model for


class _Wire(pydantic.BaseModel):
    """A wire body the SDK unpacks itself (lists, envelopes): fields of SDK models, extras allowed."""
    model_config = pydantic.ConfigDict(extra="allow")


class _OpenAIErrorResponse(_Wire):
    error: openai_types.ErrorObject


class _OpenAIModelList(_Wire):
    object: Literal["list"]
    data: list[openai_types.Model]


class _AnthropicModelInfo(anthropic_types.ModelInfo):
    # anthropic 2.12 declares ``lifecycle`` required; the API reference the gateway follows
    # has no such field yet, and neither the gateway nor the fake sends it.
    lifecycle: Literal["active", "deprecated", "retired"] | None = None


class _AnthropicModelList(_Wire):
    data: list[_AnthropicModelInfo]
    has_more: bool
    first_id: str | None                  # required, may be null
    last_id: str | None


class _GeminiEmbedContent(_Wire):
    embedding: genai_types.ContentEmbedding


class _GeminiBatchEmbedContents(_Wire):
    embeddings: list[genai_types.ContentEmbedding]


class _GeminiModelInfo(genai_types.Model):
    """The REST ``Model`` resource: the SDK's Model plus the REST-only fields it converts away."""
    model_config = pydantic.ConfigDict(extra="allow")
    name: str
    supported_generation_methods: list[str]


class _GeminiModelList(_Wire):
    models: list[_GeminiModelInfo]
    next_page_token: str | None = pydantic.Field(default=None, alias="nextPageToken")


_MODELS: dict[tuple[str, str], Any] = {
    ("openai", "CreateChatCompletionResponse"): openai_chat.ChatCompletion,
    ("openai", "CreateChatCompletionStreamResponse"): openai_chat.ChatCompletionChunk,
    ("openai", "CreateCompletionResponse"): openai_types.Completion,
    ("openai", "CompletionUsage"): openai_types.CompletionUsage,
    ("openai", "CreateEmbeddingResponse"): openai_types.CreateEmbeddingResponse,
    ("openai", "ErrorResponse"): _OpenAIErrorResponse,
    ("openai", "ListModelsResponse"): _OpenAIModelList,
    ("openai", "Model"): openai_types.Model,
    ("openai", "Response"): openai_responses.Response,
    ("openai", "ResponseErrorEvent"): openai_responses.ResponseErrorEvent,
    ("openai", "ResponseStreamEvent"): openai_responses.ResponseStreamEvent,
    ("anthropic", "Message"): anthropic_types.Message,
    ("anthropic", "MessageStreamEvent"): anthropic_types.RawMessageStreamEvent,
    ("anthropic", "ErrorResponse"): anthropic_types.ErrorResponse,
    ("anthropic", "CountMessageTokensResponse"): anthropic_types.MessageTokensCount,
    ("anthropic", "ListResponse_ModelInfo_"): _AnthropicModelList,
    ("gemini", "GenerateContentResponse"): genai_types.GenerateContentResponse,
    ("gemini", "CountTokensResponse"): genai_types.CountTokensResponse,
    ("gemini", "EmbedContentResponse"): _GeminiEmbedContent,
    ("gemini", "BatchEmbedContentsResponse"): _GeminiBatchEmbedContents,
    ("gemini", "ListModelsResponse"): _GeminiModelList,
    ("gemini", "Status"): genai_types.GoogleRpcStatus,
}


# ---------------------------------------------------------------- fields the SDK models leave optional
# Each check appends "path: problem" to ``errs``; it looks only where the body has the
# expected structure (a body without it already fails the SDK model).


def _present(errs: list[str], obj: Any, where: str, *keys: str) -> None:
    """Each key must be in ``obj`` (its value may be ``null``)."""
    if isinstance(obj, dict):
        errs.extend(f"{_at(where, key)}: field required (may be null, not absent)" for key in keys if key not in obj)


def _at(where: str, key: str | int) -> str:
    return f"{where}.{key}" if where else str(key)


def _each(obj: Any, key: str, where: str = "") -> list[tuple[str, Any]]:
    """``(path, item)`` of each element of the list ``obj[key]`` (none if it is not a list)."""
    items = obj.get(key) if isinstance(obj, dict) else None
    return [(_at(_at(where, key), i), x) for i, x in enumerate(items)] if isinstance(items, list) else []


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _chat_completion(errs: list[str], body: Any) -> None:
    for at, choice in _each(body, "choices"):
        _present(errs, choice, at, "logprobs")
        _present(errs, _get(choice, "message"), _at(at, "message"), "content", "refusal")


def _chat_chunk(errs: list[str], body: Any) -> None:
    for at, choice in _each(body, "choices"):
        _present(errs, choice, at, "finish_reason")          # null until the last chunk, never absent


def _completion(errs: list[str], body: Any) -> None:
    for at, choice in _each(body, "choices"):
        _present(errs, choice, at, "logprobs")


def _openai_error(errs: list[str], body: Any) -> None:
    _present(errs, _get(body, "error"), "error", "code", "param")


def _response(errs: list[str], body: Any, where: str = "") -> None:
    _present(errs, body, where, "error", "incomplete_details", "instructions", "metadata", "temperature", "top_p")


def _response_event(errs: list[str], body: Any) -> None:
    if isinstance(_get(body, "response"), dict):
        _response(errs, body["response"], "response")
    if _get(body, "type") == "error":
        _present(errs, body, "", "code", "param")


def _anthropic_message(errs: list[str], body: Any, where: str = "") -> None:
    _present(errs, body, where, "stop_reason", "stop_sequence")
    _present(errs, _get(body, "usage"), _at(where, "usage"),
             "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _anthropic_event(errs: list[str], body: Any) -> None:
    if _get(body, "type") == "message_start":
        _anthropic_message(errs, _get(body, "message"), "message")
    elif _get(body, "type") == "message_delta":
        _present(errs, _get(body, "delta"), "delta", "stop_reason", "stop_sequence")
        _present(errs, _get(body, "usage"), "usage", "output_tokens")


#: a Part carries exactly one of these (the rest of a Part is metadata about it)
_GEMINI_PART_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
                     "codeExecutionResult")


def _gemini_response(errs: list[str], body: Any) -> None:
    for at, candidate in _each(body, "candidates"):
        for part_at, part in _each(_get(candidate, "content"), "parts", _at(at, "content")):
            data = [k for k in _GEMINI_PART_DATA if isinstance(part, dict) and k in part]
            if len(data) != 1:
                errs.append(f"{part_at}: a part carries exactly one of {', '.join(_GEMINI_PART_DATA)}; got {data}")


def _gemini_embeddings(errs: list[str], body: Any) -> None:
    _present(errs, _get(body, "embedding"), "embedding", "values")
    for at, embedding in _each(body, "embeddings"):
        _present(errs, embedding, at, "values")


_MUST_HAVE: dict[tuple[str, str], Callable[[list[str], Any], None]] = {
    ("openai", "CreateChatCompletionResponse"): _chat_completion,
    ("openai", "CreateChatCompletionStreamResponse"): _chat_chunk,
    ("openai", "CreateCompletionResponse"): _completion,
    ("openai", "ErrorResponse"): _openai_error,
    ("openai", "Response"): _response,
    ("openai", "ResponseErrorEvent"): _response_event,
    ("openai", "ResponseStreamEvent"): _response_event,
    ("anthropic", "Message"): _anthropic_message,
    ("anthropic", "MessageStreamEvent"): _anthropic_event,
    ("gemini", "GenerateContentResponse"): _gemini_response,
    ("gemini", "CountTokensResponse"): lambda errs, body: _present(errs, body, "", "totalTokens"),
    ("gemini", "EmbedContentResponse"): _gemini_embeddings,
    ("gemini", "BatchEmbedContentsResponse"): _gemini_embeddings,
    ("gemini", "Status"): lambda errs, body: _present(errs, body, "", "code", "message"),
}


# ---------------------------------------------------------------- validation


@cache
def _adapter(model: Any) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(model)


@cache
def union_branches(provider: str, union_name: str) -> dict[str, Any]:
    """``type`` value -> SDK model, for a union such as ``ResponseStreamEvent``."""
    union = _MODELS[(provider, union_name)]
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    out = {}
    for model in typing.get_args(union):
        for value in typing.get_args(model.model_fields["type"].annotation):
            out.setdefault(value, model)
    return out


def schema_errors(provider: str, schema_name: str, body: Any, model: Any = None) -> list[str]:
    """Every problem of ``body`` as the SDK model of ``schema_name`` (or ``model``), as strings."""
    if model is None:
        model = _MODELS.get((provider, schema_name))
        if model is None:
            raise KeyError(f"no {provider} model for {schema_name!r}")
    errs: list[str] = []
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            _adapter(model).validate_json(json.dumps(body), strict=True, extra="allow")
        except pydantic.ValidationError as exc:
            errs += [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg'][:300]}"
                     + (f" (got {e['input']!r:.80})" if e["type"] != "missing" else "")
                     for e in exc.errors() if not _rfc3339_in_python_mode(e)]
    # google-genai keeps an unknown enum value (forward compatibility) and only warns about it
    errs += [f"{w.message}" for w in warned if _ENUM_WARNING.search(str(w.message))]
    check = _MUST_HAVE.get((provider, schema_name))
    if check is not None:
        check(errs, body)
    return errs


#: google-genai's warning for an enum value it does not know: "DONE is not a valid FinishReason"
_ENUM_WARNING = re.compile(r" is not a valid [A-Z]\w+$")


def _rfc3339_in_python_mode(error: Any) -> bool:
    """A JSON timestamp string that strict mode refused only because the model validates in
    Python mode (google-genai models run a ``mode="before"`` validator, which turns JSON
    strictness for ``datetime`` into Python strictness)."""
    if error["type"] != "datetime_type" or not isinstance(error["input"], str):
        return False
    try:
        datetime.fromisoformat(error["input"])
    except ValueError:
        return False
    return "T" in error["input"]


def _fail(provider: str, schema_name: str, errs: list[str], body: Any) -> None:
    shown = json.dumps(body, default=str)[:1500]
    raise AssertionError(f"{provider} {schema_name}: {len(errs)} error(s):\n  " + "\n  ".join(errs[:25])
                         + f"\nbody: {shown}")


def validate_union(provider: str, union_name: str, body: Any) -> Any:
    """Validate against the union member picked by ``body["type"]`` (so errors name that member)."""
    kind = body.get("type") if isinstance(body, dict) else None
    model = union_branches(provider, union_name).get(kind)
    if model is None:
        raise AssertionError(f"{provider} {union_name}: unknown type {kind!r}: {body!r:.500}")
    errs = schema_errors(provider, union_name, body, model)
    if errs:
        _fail(provider, f"{union_name} ({model.__name__})", errs, body)
    return body


def _validate(provider: str, schema_name: str, body: Any) -> Any:
    errs = schema_errors(provider, schema_name, body)
    if errs:
        _fail(provider, schema_name, errs, body)
    return body


def validate_openai(schema_name: str, body: Any) -> Any:
    return _validate("openai", schema_name, body)


def validate_anthropic(schema_name: str, body: Any) -> Any:
    return _validate("anthropic", schema_name, body)


def validate_gemini(schema_name: str, body: Any) -> Any:
    return _validate("gemini", schema_name, body)


# ---------------------------------------------------------------- SSE parsing

def parse_sse(text: str | bytes) -> list[tuple[str | None, str]]:
    """Split an SSE body into ``(event, data)`` pairs (data lines joined by ``\\n``).

    Handles ``\\n``, ``\\r\\n`` and ``\\r`` line endings, comments and ``id:``/``retry:``.
    ``event`` is ``None`` when the event had no ``event:`` line.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[tuple[str | None, str]] = []
    event: str | None = None
    data: list[str] = []
    for line in text.split("\n") + [""]:
        if line == "":
            if data or event is not None:
                out.append((event, "\n".join(data)))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    return out


def sse_json(text: str | bytes) -> list[tuple[str | None, Any]]:
    """Like :func:`parse_sse` but with each data JSON-decoded (``[DONE]`` kept as str)."""
    return [(ev, d if d == "[DONE]" else json.loads(d)) for ev, d in parse_sse(text)]


def validate_openai_chat_stream(text: str | bytes, *, require_done: bool = True) -> list[dict]:
    """Validate every chunk against ``CreateChatCompletionStreamResponse``; returns the chunks."""
    events = parse_sse(text)
    assert events, "empty stream"
    if require_done:
        assert events[-1][1] == "[DONE]", f"stream does not end with [DONE]: {events[-1]!r}"
    chunks = []
    for _, data in events:
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        validate_openai("CreateChatCompletionStreamResponse", chunk)
        chunks.append(chunk)
    assert len({c["id"] for c in chunks}) == 1, "chunk ids differ"
    return chunks


def validate_openai_completions_stream(text: str | bytes) -> list[dict]:
    """Legacy ``/completions`` stream chunks against ``CreateCompletionResponse``.

    The SDK's ``Completion`` (one model for whole answers and chunks) does not allow the
    ``finish_reason: null`` that real intermediate chunks carry, so a null one is validated
    as ``"stop"``; any other value must be one of the model's own.
    """
    events = parse_sse(text)
    assert events and events[-1][1] == "[DONE]", "stream does not end with [DONE]"
    chunks = []
    for _, data in events[:-1]:
        chunk = json.loads(data)
        probe = json.loads(data)
        for c in probe.get("choices", []):
            if c.get("finish_reason", "x") is None:
                c["finish_reason"] = "stop"
        if probe.get("choices"):
            validate_openai("CreateCompletionResponse", probe)
        else:
            validate_openai("CompletionUsage", probe.get("usage"))
        chunks.append(chunk)
    return chunks


def validate_responses_stream(text: str | bytes, *, require_event_lines: bool = True) -> list[dict]:
    """Validate each Responses event against ``ResponseStreamEvent`` and the protocol shape."""
    events = parse_sse(text)
    assert events, "empty stream"
    out, seqs = [], []
    for ev, data in events:
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        if require_event_lines:
            assert ev == obj.get("type"), f"event line {ev!r} != type {obj.get('type')!r}"
        validate_union("openai", "ResponseStreamEvent", obj)
        seqs.append(obj["sequence_number"])
        out.append(obj)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"bad sequence numbers {seqs}"
    types = [o["type"] for o in out]
    assert types[0] == "response.created", f"first event is not response.created: {types}"
    assert types[-1] in ("response.completed", "response.failed", "response.incomplete"), \
        f"stream does not end with response.completed/failed/incomplete: {types}"
    added = sum(t == "response.output_item.added" for t in types)
    done = sum(t == "response.output_item.done" for t in types)
    assert added == done, f"{added} output_item.added vs {done} output_item.done"
    return out


def validate_anthropic_stream(text: str | bytes) -> list[dict]:
    """Validate each Anthropic event (``MessageStreamEvent``, ``ping``, ``error``) and order."""
    events = parse_sse(text)
    assert events, "empty stream"
    out = []
    for ev, data in events:
        obj = json.loads(data)
        assert ev == obj.get("type"), f"event line {ev!r} != type {obj.get('type')!r}"
        if obj["type"] == "ping":
            assert obj == {"type": "ping"}, obj
        elif obj["type"] == "error":
            validate_anthropic("ErrorResponse", {"request_id": None, **obj})
        else:
            validate_union("anthropic", "MessageStreamEvent", obj)
        out.append(obj)
    types = [o["type"] for o in out]
    assert types[0] == "message_start", f"first event is not message_start: {types}"
    if "error" not in types:
        assert types[-1] == "message_stop", f"stream does not end with message_stop: {types}"
        assert "message_delta" in types, f"no message_delta: {types}"
    open_blocks: set[int] = set()
    for o in out:
        if o["type"] == "content_block_start":
            open_blocks.add(o["index"])
        elif o["type"] == "content_block_delta":
            assert o["index"] in open_blocks, f"delta for unopened block {o['index']}"
        elif o["type"] == "content_block_stop":
            open_blocks.remove(o["index"])
    if "error" not in types:
        assert not open_blocks, f"unclosed blocks {open_blocks}"
    return out


def validate_gemini_sse(text: str | bytes) -> list[dict]:
    """Validate a ``streamGenerateContent?alt=sse`` body: ``\\r\\n\\r\\n`` framing, chunks."""
    raw = text.decode("utf-8") if isinstance(text, bytes) else text
    assert raw.endswith("\r\n\r\n"), "gemini SSE events must end with \\r\\n\\r\\n"
    chunks = []
    for ev, data in parse_sse(raw):
        assert ev is None, f"unexpected event line {ev!r}"
        chunk = json.loads(data)
        validate_gemini("GenerateContentResponse", chunk)
        chunks.append(chunk)
    assert chunks, "empty stream"
    return chunks
