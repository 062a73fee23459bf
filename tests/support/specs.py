"""Spec validators for the three provider wire formats.

The specs live in ``shared/specs/`` beside the repository.  They are loaded
once per process, ``nullable`` is rewritten to JSON-Schema nulls, and each is
registered as a single ``referencing`` resource (``urn:openai`` /
``urn:anthropic`` / ``urn:gemini``) so any component schema can be used by name.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

SHARED_DIR = Path(__file__).resolve().parents[2].parent / "shared"
SPECS_DIR = SHARED_DIR / "specs"

_FILES = {
    "openai": "openai-openapi.json",
    "anthropic": "anthropic-openapi.json",
    "gemini": "gemini-openapi.json",
}


def _fix_nullable(node: Any) -> Any:
    """Rewrite OpenAPI-3.0 ``nullable: true`` into 2020-12 null types (recursively)."""
    if isinstance(node, list):
        return [_fix_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _fix_nullable(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        t = out.get("type")
        if isinstance(t, str) and not any(k in out for k in ("$ref", "anyOf", "oneOf", "allOf")):
            out["type"] = [t, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=None)
def load_spec(provider: str) -> dict:
    """The raw-but-preprocessed spec document for ``openai``/``anthropic``/``gemini``."""
    with open(SPECS_DIR / _FILES[provider], "rb") as f:
        spec = json.load(f)
    if provider != "gemini":  # gemini is OAS 3.0: OAS30Validator understands nullable
        spec = _fix_nullable(spec)
    return spec


@lru_cache(maxsize=None)
def _registry(provider: str) -> Registry:
    draft = DRAFT4 if provider == "gemini" else DRAFT202012
    res = Resource.from_contents(load_spec(provider), default_specification=draft)
    return Registry().with_resource(f"urn:{provider}", res)


@lru_cache(maxsize=None)
def _validator(provider: str, schema_name: str):
    if schema_name not in load_spec(provider)["components"]["schemas"]:
        raise KeyError(f"{provider} spec has no component schema {schema_name!r}")
    ref = {"$ref": f"urn:{provider}#/components/schemas/{schema_name}"}
    cls = OAS30Validator if provider == "gemini" else Draft202012Validator
    return cls(ref, registry=_registry(provider))


def schema_errors(provider: str, schema_name: str, body: Any) -> list[str]:
    """All validation errors of ``body`` against a component schema, as strings."""
    errs = []
    for e in _validator(provider, schema_name).iter_errors(body):
        while e.context:  # descend into anyOf/oneOf to the most relevant branch error
            e = best_match(e.context)
        path = "/".join(str(p) for p in e.absolute_path) or "<root>"
        errs.append(f"{path}: {e.message[:300]}")
    return errs


@lru_cache(maxsize=None)
def union_branches(provider: str, union_name: str) -> dict[str, str]:
    """``type`` value -> component schema name, for a union schema such as ``ResponseStreamEvent``."""
    schemas = load_spec(provider)["components"]["schemas"]
    node = schemas[union_name]
    refs = node.get("anyOf") or node.get("oneOf") or []
    out = {}
    for r in refs:
        if "$ref" not in r:
            continue
        name = r["$ref"].rsplit("/", 1)[-1]
        tprop = (schemas[name].get("properties") or {}).get("type") or {}
        for v in ([tprop["const"]] if "const" in tprop else tprop.get("enum") or []):
            out.setdefault(v, name)
    return out


def validate_union(provider: str, union_name: str, body: Any) -> Any:
    """Validate against the union branch picked by ``body["type"]`` (clear errors), then the union."""
    branch = union_branches(provider, union_name).get(body.get("type") if isinstance(body, dict) else None)
    if branch is None:
        raise AssertionError(f"{provider} {union_name}: unknown type {body.get('type')!r}: {body!r:.500}")
    _validate(provider, branch, body)
    return _validate(provider, union_name, body)


def _validate(provider: str, schema_name: str, body: Any) -> Any:
    errs = schema_errors(provider, schema_name, body)
    if errs:
        shown = json.dumps(body, default=str)[:1500]
        raise AssertionError(
            f"{provider} {schema_name}: {len(errs)} error(s):\n  " + "\n  ".join(errs[:25])
            + f"\nbody: {shown}")
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

    The spec does not allow the ``finish_reason: null`` that real intermediate
    chunks carry, so it is checked for type and then validated as ``"stop"``.
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
