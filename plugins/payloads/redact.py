"""Redaction of stored payloads: JSON paths and regexes, then a size cap. Pure functions."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

REDACTED = "[REDACTED]"
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")


@lru_cache(maxsize=256)
def parse_path(path: str) -> tuple[str | int, ...]:
    """``$.messages[*].content`` -> ("messages", "*", "content"); ``[0]`` -> 0."""
    path = path.strip()
    path = path[1:] if path.startswith("$") else path
    parts: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        if index:
            parts.append("*" if index == "*" else int(index))
        else:
            parts.append(name)
    return tuple(parts)


def redact_path(obj: Any, parts: tuple[str | int, ...]) -> None:
    """Replace every value at *parts* in *obj* (in place) with ``[REDACTED]``."""
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(obj, dict):
        keys = list(obj) if head == "*" else [head] if head in obj else []
    elif isinstance(obj, list):
        keys = list(range(len(obj))) if head == "*" else [head] if isinstance(head, int) and head < len(obj) else []
    else:
        return
    for k in keys:
        if rest:
            redact_path(obj[k], rest)
        else:
            obj[k] = REDACTED


@lru_cache(maxsize=64)
def compile_patterns(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def redact_text(text: str, patterns: tuple[str, ...]) -> str:
    rx = compile_patterns(patterns)
    return rx.sub(REDACTED, text) if rx is not None else text


def cap(text: str, max_bytes: int) -> tuple[str, bool]:
    data = text.encode()
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode(errors="ignore"), True


def render(value: Any, json_paths: tuple[str, ...], patterns: tuple[str, ...], max_bytes: int,
           *, already_cut: bool = False) -> tuple[str, bool]:
    """A body for storage: JSON paths redacted (JSON only), then regexes, then the cap.

    *value* is a parsed body (dict/list) or bytes (a JSON answer or stream events).
    """
    if isinstance(value, (bytes, bytearray)):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = bytes(value).decode(errors="replace")
    if not isinstance(value, str):
        if json_paths:
            value = orjson.loads(orjson.dumps(value))      # a copy: never touch the live body
            for p in json_paths:
                redact_path(value, parse_path(p))
        value = orjson.dumps(value).decode()
    text, cut = cap(redact_text(value, patterns), max_bytes)
    return text, cut or already_cut
