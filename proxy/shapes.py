"""Request shapes: a small JSON Schema subset, checked where a body meets code that reads it.

Each wire format declares the shape of the fields its translators read
(:attr:`proxy.apis.Api.request_schema`). The same dicts are the request bodies of
the gateway's own OpenAPI document (``/openapi.json``), so what is documented is
what is checked. :func:`check` raises :class:`RequestRejected` naming the first
wrong field by its path (``messages[2].tool_calls[0].id``, as OpenAI's ``param`` spells it), so a nested field
of the wrong type is a 400 in the client's error shape, never a crash further in.

Keywords understood: ``type`` (one or a list; ``integer`` excludes booleans),
``properties``, ``required``, ``items``, ``enum``, ``minimum``, ``maximum``,
``minItems``, ``maxItems``, ``maxLength``, ``pattern`` (the whole string), ``anyOf`` (a discriminated union:
an object whose ``type`` names a branch is checked against that branch, so the
error points inside it) and ``additionalProperties`` (a schema for the values of
other keys; ``true``/absent: anything). Unknown keys pass: providers add fields
faster than a gateway could follow, and what no translator reads cannot crash one.
"""

from __future__ import annotations

import re
from typing import Any

from proxy.errors import RequestRejected
from proxy.fits import fits

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}
_NAMES = {"object": "an object", "array": "a list", "string": "a string", "boolean": "a boolean",
          "integer": "an integer", "number": "a number", "null": "null"}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer() and abs(value) < 2**53
    return isinstance(value, _TYPES[kind])


def _reject(path: str, message: str) -> RequestRejected:
    where = path or "body"
    return RequestRejected(f"'{where}' {message}", param=path or None)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check(value: Any, schema: Schema, path: str = "") -> None:
    """Raise RequestRejected naming the first field of *value* that does not fit *schema*."""
    if not fits(value, schema):
        _explain(value, schema, path)


def _explain(value: Any, schema: Schema, path: str = "") -> None:
    """The checker that names what is wrong: walks with paths, so it runs only on bodies that do not fit."""
    if "anyOf" in schema:
        _any_of(value, schema["anyOf"], path)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            raise _reject(path, "must be " + " or ".join(_NAMES[k] for k in kinds)
                          + f", got {_json_name(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise _reject(path, f"must be one of {', '.join(map(repr, schema['enum']))}; got {_short(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise _reject(path, f"must be at least {schema['minimum']}, got {_short(value)}")
        if "maximum" in schema and value > schema["maximum"]:
            raise _reject(path, f"must be at most {schema['maximum']}, got {_short(value)}")
    elif isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise _reject(path, f"must be at most {schema['maxLength']} characters long")
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            raise _reject(path, f"must match {schema['pattern']}, got {_short(value)}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise _reject(path, f"must hold at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise _reject(path, f"must hold at most {schema['maxItems']} items, got {len(value)}")
        items = schema.get("items")
        if items:
            for i, item in enumerate(value):
                _explain(item, items, _join(path, i))
    elif isinstance(value, dict):
        _object(value, schema, path)


def _object(value: dict[str, Any], schema: Schema, path: str) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            raise _reject(_join(path, name), "is required")
    props: dict[str, Schema] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        sub = props.get(key)
        if sub is not None:
            _explain(item, sub, _join(path, key))
        elif isinstance(extra, dict):
            _explain(item, extra, _join(path, key))


def _any_of(value: Any, branches: list[Schema], path: str) -> None:
    tag = value.get("type") if isinstance(value, dict) else None
    if isinstance(tag, str):
        for branch in branches:
            if tag in branch.get("properties", {}).get("type", {}).get("enum", ()):
                _explain(value, branch, path)      # the branch the object names: errors point inside it
                return
    fitting = [b for b in branches if _fits_type(value, b)]
    if not fitting:
        kinds = [k for b in branches for k in _kinds(b)]
        raise _reject(path, "must be " + " or ".join(dict.fromkeys(_NAMES[k] for k in kinds))
                      + f", got {_json_name(value)}")
    first: RequestRejected | None = None
    for branch in fitting:
        try:
            _explain(value, branch, path)
            return
        except RequestRejected as exc:
            first = first or exc
    tags = [t for b in branches for t in b.get("properties", {}).get("type", {}).get("enum", ())]
    if tags and isinstance(value, dict) and not isinstance(tag, str):
        raise _reject(_join(path, "type"), f"must be one of {', '.join(map(repr, tags))}; got {_short(tag)}")
    assert first is not None
    raise first


def _kinds(schema: Schema) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _fits_type(value: Any, schema: Schema) -> bool:
    kinds = _kinds(schema)
    return not kinds or any(_is(value, k) for k in kinds)


def _json_name(value: Any) -> str:
    for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is(value, kind):
            return {"integer": "a number", "null": "null"}.get(kind, _NAMES[kind])
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- building blocks for the formats' schemas -----------------------------------------------------

def obj(properties: dict[str, Schema] | None = None, *, required: tuple[str, ...] = (), **more: Any) -> Schema:
    """An object schema; unknown keys allowed."""
    out: Schema = {"type": "object", "properties": properties or {}}
    if required:
        out["required"] = list(required)
    out.update(more)
    return out


def array(items: Schema, **more: Any) -> Schema:
    return {"type": "array", "items": items, **more}


def tagged(tag: str, properties: dict[str, Schema] | None = None, *, required: tuple[str, ...] = ()) -> Schema:
    """One branch of a union told apart by its ``type``."""
    return obj({"type": {"type": "string", "enum": [tag]}, **(properties or {})}, required=("type", *required))


STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
#: a count the gateway forwards: a JSON integer that any provider's int32 can hold
COUNT: Schema = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
NUMBER: Schema = {"type": "number", "minimum": -1e6, "maximum": 1e6}


def nullable(schema: Schema) -> Schema:
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    out = {**schema, "type": kinds if "null" in kinds else [*kinds, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out
