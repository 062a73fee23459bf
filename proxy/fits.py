"""A schema of :mod:`proxy.shapes` compiled into one yes/no predicate, for the request path.

Every request body is checked against its format's schema, and almost all of them
fit. Walking the schema dict with a path string per field cost ~60 Python calls
per chat request; the predicate a schema compiles to (once) does only the tests
the schema asks for and builds no path. Only a body that does not fit is walked
again by :func:`proxy.shapes.check`'s explaining checker, which names the field.
The two must agree: ``tests/proxy/test_fits.py`` runs both over the same bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}

#: compiled predicates by the id of their schema dict (the schema is kept alive beside it)
_compiled: dict[int, tuple[dict[str, Any], Predicate]] = {}


def fits(value: Any, schema: dict[str, Any]) -> bool:
    """True when *value* fits *schema* (the same verdict as :func:`proxy.shapes.check`)."""
    entry = _compiled.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _compiled[id(schema)] = (schema, compile_schema(schema))
    return entry[1](value)


def _type_test(kinds: list[str]) -> Predicate:
    """``type``: booleans are not numbers; an integral float below 2**53 is an integer (as in JSON)."""
    numeric = "integer" in kinds or "number" in kinds
    plain = tuple(t for k in kinds if k not in ("integer", "number") for t in _PY_TYPES[k])
    if not numeric:
        return lambda v: isinstance(v, plain)
    number = "number" in kinds

    def test(v: Any) -> bool:
        if isinstance(v, plain):
            return True
        if isinstance(v, bool):
            return False
        if isinstance(v, int):
            return True
        if isinstance(v, float):
            return number or (v.is_integer() and abs(v) < 2**53)
        return False
    return test


def compile_schema(schema: dict[str, Any]) -> Predicate:
    kinds = schema.get("type")
    kinds = None if kinds is None else [kinds] if isinstance(kinds, str) else list(kinds)
    tests: list[Predicate] = []
    if "anyOf" in schema:
        tests.append(_any_of([compile_schema(b) for b in schema["anyOf"]], schema["anyOf"]))
    structured = any(k in schema for k in ("required", "properties", "additionalProperties"))
    listed = any(k in schema for k in ("minItems", "maxItems", "items"))
    if kinds == ["object"] and structured:
        tests.append(_object_test(schema, typed=True))      # the type test folded in: one call per object
        structured = False
    elif kinds == ["array"] and listed:
        tests.append(_list_test(schema, typed=True))
        listed = False
    elif kinds is not None:
        tests.append(_type_test(kinds))
    if "enum" in schema:
        allowed = schema["enum"]
        tests.append(lambda v: v in allowed)
    tests.extend(_number_tests(schema))
    tests.extend(_string_tests(schema))
    if listed:
        tests.append(_list_test(schema, typed=False))
    if structured:
        tests.append(_object_test(schema, typed=False))
    return _all(tests)


def _all(tests: list[Predicate]) -> Predicate:
    """The conjunction, without a generator for the usual one to three tests."""
    if not tests:
        return lambda v: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda v: a(v) and b(v)
    if len(tests) == 3:
        a, b, c = tests
        return lambda v: a(v) and b(v) and c(v)
    return lambda v: all(t(v) for t in tests)


def _number_tests(schema: dict[str, Any]) -> list[Predicate]:
    out: list[Predicate] = []
    if "minimum" in schema:
        lo = schema["minimum"]
        out.append(lambda v: not _is_number(v) or not v < lo)     # as the explaining checker compares
    if "maximum" in schema:
        hi = schema["maximum"]
        out.append(lambda v: not _is_number(v) or not v > hi)
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _string_tests(schema: dict[str, Any]) -> list[Predicate]:
    out: list[Predicate] = []
    if "maxLength" in schema:
        most = schema["maxLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) <= most)
    if "pattern" in schema:
        pattern = re.compile(schema["pattern"])
        out.append(lambda v: not isinstance(v, str) or pattern.fullmatch(v) is not None)
    return out


def _list_test(schema: dict[str, Any], typed: bool) -> Predicate:
    least, most, items = schema.get("minItems"), schema.get("maxItems"), schema.get("items")
    item = compile_schema(items) if items else None

    def test(v: Any) -> bool:
        if not isinstance(v, list):
            return not typed
        if (least is not None and len(v) < least) or (most is not None and len(v) > most):
            return False
        if item is not None:
            for x in v:
                if not item(x):
                    return False
        return True
    return test


def _object_test(schema: dict[str, Any], typed: bool) -> Predicate:
    required = tuple(schema.get("required", ()))
    props = {name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()}
    extra_schema = schema.get("additionalProperties")
    extra = compile_schema(extra_schema) if isinstance(extra_schema, dict) else None

    def test(v: Any) -> bool:
        if not isinstance(v, dict):
            return not typed
        for name in required:
            if name not in v:
                return False
        for key, item in v.items():
            sub = props.get(key)
            if sub is not None:
                if not sub(item):
                    return False
            elif extra is not None and not extra(item):
                return False
        return True
    return test


def _any_of(compiled: list[Predicate], branches: list[dict[str, Any]]) -> Predicate:
    """A union: an object whose ``type`` names a branch must fit that branch; else any branch of a fitting type."""
    by_tag: dict[str, Predicate] = {}
    for pred, branch in zip(compiled, branches):
        for tag in branch.get("properties", {}).get("type", {}).get("enum", ()):
            if isinstance(tag, str):
                by_tag.setdefault(tag, pred)     # the first branch naming a tag is the one checked
    kinds = [branch.get("type", []) for branch in branches]
    type_fits = [_type_test([k] if isinstance(k, str) else list(k)) if k else None for k in kinds]

    def test(v: Any) -> bool:
        if isinstance(v, dict):
            tag = v.get("type")
            if isinstance(tag, str) and tag in by_tag:
                return by_tag[tag](v)
        return any((fit is None or fit(v)) and pred(v) for fit, pred in zip(type_fits, compiled))
    return test
