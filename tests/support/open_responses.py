"""Validators for the Open Responses specification, built on ``openresponses-types``.

``openresponses-types`` (pinned in the test extras) holds pydantic models generated from the
Open Responses OpenAPI document (spec version 2026-04-24). Every body and event is parsed
as JSON in pydantic's strict mode, so required keys must be present and types exact. This
module is stricter than the package in two places and lenient in one:

* Optional keys must be *absent*, never ``null``: the package declares every optional field
  ``X | None = None``, but in the spec no optional field of a Response object, an output item,
  a streaming event or a compaction object is nullable (only request parameters are).
* Streams are checked as a whole: the first event is ``response.created``, ``sequence_number``
  starts at 0 and increases strictly, exactly one terminal event (``response.completed``,
  ``response.failed`` or ``response.incomplete``) closes the stream, every added item is done
  (unless the stream failed).
* ``text.format.schema`` of a ``json_schema`` format: the generated OpenAPI document says
  ``anyOf: [null]`` (so the package model only accepts ``None``), while the specification's
  own TypeSpec and the public compliance suite's zod schema take a JSON Schema object, which is
  what OpenAI echoes. Here it must be an object (or null); the package sees it as null.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import openresponses_types as ort
import pydantic

from support.specs import parse_sse

TERMINAL = ("response.completed", "response.failed", "response.incomplete")

#: event type -> the package model for it
EVENT_MODELS: dict[str, type[pydantic.BaseModel]] = {}
for _cls in vars(ort).values():
    if isinstance(_cls, type) and issubclass(_cls, pydantic.BaseModel) and _cls.__name__.endswith("StreamingEvent"):
        _type = _cls.model_fields["type"].annotation
        for _value in getattr(_type, "__members__", {}).values():
            EVENT_MODELS[str(_value.value)] = _cls


def _nulls_in_optional_fields(value: Any, path: str = "") -> list[str]:
    """Paths of optional fields that were sent as ``null`` (the spec wants them absent)."""
    found: list[str] = []
    if isinstance(value, pydantic.RootModel):
        return _nulls_in_optional_fields(value.root, path)
    if isinstance(value, pydantic.BaseModel):
        fields = type(value).model_fields
        for name in value.model_fields_set:
            child = getattr(value, name)
            key = fields[name].alias or name
            where = f"{path}.{key}" if path else key
            if child is None and not fields[name].is_required():
                found.append(where)
            else:
                found += _nulls_in_optional_fields(child, where)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _nulls_in_optional_fields(child, f"{path}[{i}]")
    return found


def _json_schema_format_as_package_reads_it(obj: dict[str, Any]) -> dict[str, Any]:
    fmt = (obj.get("text") or {}).get("format") or {}
    if fmt.get("type") != "json_schema" or fmt.get("schema") is None:
        return obj
    assert isinstance(fmt["schema"], dict), f"text.format.schema must be a JSON Schema object: {fmt['schema']!r}"
    return {**obj, "text": {**obj["text"], "format": {**fmt, "schema": None}}}


def _for_package(event_or_response: dict[str, Any]) -> dict[str, Any]:
    if isinstance(event_or_response.get("response"), dict):
        return {**event_or_response, "response": _json_schema_format_as_package_reads_it(event_or_response["response"])}
    if event_or_response.get("object") == "response":
        return _json_schema_format_as_package_reads_it(event_or_response)
    return event_or_response


def _strict(model: type[pydantic.BaseModel], obj: dict[str, Any], what: str) -> pydantic.BaseModel:
    try:
        parsed = model.model_validate_json(json.dumps(_for_package(obj)), strict=True)
    except pydantic.ValidationError as exc:
        raise AssertionError(f"{what} is not a valid Open Responses {model.__name__}:\n{exc}\n{obj}") from None
    nulls = _nulls_in_optional_fields(parsed)
    assert not nulls, f"{what}: optional fields sent as null (absent, per the spec): {nulls}\n{obj}"
    return parsed


def validate_response(obj: dict[str, Any] | bytes | str) -> dict[str, Any]:
    """A Response object (``ResponseResource``); returns it parsed."""
    if not isinstance(obj, dict):
        obj = json.loads(obj)
    _strict(ort.ResponseResource, obj, "response")
    return obj


def validate_compaction(obj: dict[str, Any] | bytes | str) -> dict[str, Any]:
    """A ``/responses/compact`` answer (``CompactResource``)."""
    if not isinstance(obj, dict):
        obj = json.loads(obj)
    _strict(ort.CompactResource, obj, "compaction")
    return obj


def validate_event(obj: dict[str, Any]) -> pydantic.BaseModel:
    model = EVENT_MODELS.get(obj.get("type", ""))
    assert model is not None, f"event type {obj.get('type')!r} is not an Open Responses streaming event"
    return _strict(model, obj, f"event {obj.get('type')} #{obj.get('sequence_number')}")


def validate_ws_error(obj: dict[str, Any]) -> dict[str, Any]:
    """A WebSocket ``error`` envelope (``WebSocketErrorEvent``: ``status`` and ``error.code``)."""
    _strict(ort.WebSocketErrorEvent, obj, "WebSocket error event")
    assert isinstance(obj["error"].get("code"), str) and obj["error"]["code"], obj
    return obj


def validate_stream(body: bytes | str) -> list[dict[str, Any]]:
    """Every event of an SSE body, and the stream's shape; returns the events' data."""
    events = []
    for name, data in parse_sse(body):
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        assert name in (None, obj.get("type")), f"event line {name!r} but type {obj.get('type')!r}"
        events.append(obj)
    return validate_events(events)


def validate_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One response's events (an SSE stream's, or one WebSocket turn's frames), each and as a whole."""
    for obj in events:
        validate_event(obj)
    assert events, "empty stream"
    types = [e["type"] for e in events]
    assert types[0] == "response.created", f"the first event is {types[0]}, not response.created"
    seqs = [e["sequence_number"] for e in events]
    assert seqs[0] == 0 and all(a < b for a, b in pairwise(seqs)), f"sequence numbers {seqs}"
    terminal = [t for t in types if t in TERMINAL]
    assert len(terminal) == 1 and types[-1] == terminal[0], f"terminal events {terminal} in {types}"
    for e in events:
        if e["type"] in ("response.created", "response.in_progress", "response.queued"):
            assert "usage" in e["response"], f"{e['type']} snapshot has no usage key (null until known)"
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["output_index"] for e in events if e["type"] == "response.output_item.done"]
    if terminal[0] == "response.failed":          # cut short: an item may stay open
        assert set(done) <= set(added), f"items added {added} but done {done}"
    else:
        assert added == done, f"items added {added} but done {done}"
    return events


def final_response(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The Response object of the stream's terminal event."""
    return next(e["response"] for e in events if e["type"] in TERMINAL)
