"""Redacting a stored stream as a whole, not event by event.

A stream carries its text in pieces (chat ``delta.content``, Responses ``delta``, Anthropic
``delta.text``, Gemini ``parts[].text``), so a secret split across two events matches no
pattern in either, yet anyone who reads the log joins them again. Here the pieces of each
*channel* (one choice, content block, output item or candidate: the same field under the
same ``index``/``output_index``/``content_index``/``item_id`` and event ``type``) are joined,
the patterns run over the joined text, and every match is cut out of the pieces it spans:
the first piece gets ``[REDACTED]``, the others lose their part. Joining the stored events
again gives the redacted text, so no pattern survives split across events. Events are SSE
(``data:`` lines) or the elements of a JSON-array stream (Gemini without ``alt=sse``);
JSON paths are applied to each event first, and the patterns run once more over the whole
stored text afterwards (ids, non-JSON lines, a truncated last event).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from plugins.payloads.redact import REDACTED, compile_patterns, parse_path, redact_path

#: keys whose values tell channels apart
_INDEX_KEYS = ("index", "output_index", "content_index", "summary_index", "item_id")
#: enums and identifiers: never part of the text
_SKIP = frozenset({"id", "object", "model", "type", "role", "created", "system_fingerprint", "finish_reason",
                   "stop_reason", "finishReason", "item_id", "call_id", "service_tier", "status"})
_BLANK_LINE = re.compile(r"\r?\n\r?\n")

Piece = tuple[Any, Any]                      # (container, key) of one string


def _leaves(obj: Any, channel: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Piece]]:
    if isinstance(obj, dict):
        here = channel + tuple((k, obj[k]) for k in _INDEX_KEYS if k in obj and not isinstance(obj[k], dict))
        for k, v in obj.items():
            if k in _SKIP:
                continue
            if isinstance(v, str):
                yield here + (k,), (obj, k)
            elif isinstance(v, (dict, list)):
                yield from _leaves(v, here + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, str):
                yield channel, (obj, i)
            elif isinstance(v, (dict, list)):
                yield from _leaves(v, channel)


def redact_events(events: list[Any], rx: re.Pattern[str]) -> None:
    """Redact the joined text of every channel of *events* (parsed JSON), in place."""
    channels: dict[tuple[Any, ...], list[Piece]] = {}
    for event in events:
        kind = event.get("type") if isinstance(event, dict) else None
        for channel, piece in _leaves(event, (("type", kind),)):
            channels.setdefault(channel, []).append(piece)
    for pieces in channels.values():
        texts = [c[k] for c, k in pieces]
        joined = "".join(texts)
        spans = [m.span() for m in rx.finditer(joined) if m.end() > m.start()]
        if not spans:
            continue
        pos = 0
        for (container, key), text in zip(pieces, texts):
            start, end = pos, pos + len(text)
            pos = end
            parts, cursor = [], start
            for s, e in spans:
                if e <= start or s >= end:
                    continue
                parts.append(joined[cursor:max(s, start)])
                if s >= start:                       # the match begins in this piece: the marker goes here
                    parts.append(REDACTED)
                cursor = min(e, end)
            if cursor != start or parts:
                parts.append(joined[cursor:end])
                container[key] = "".join(parts)


def _sse_events(text: str) -> list[tuple[list[str], Any]]:
    """(other lines, parsed data or the raw data text) per SSE event."""
    found = []
    for block in _BLANK_LINE.split(text):
        if not block:
            continue
        lines, data = [], []
        for line in block.splitlines():
            if line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(" ") else value)     # SSE drops one space
            else:
                lines.append(line)
        payload: Any = "\n".join(data) if data else None
        if payload is not None:
            try:
                payload = orjson.loads(payload)
            except orjson.JSONDecodeError:
                pass
        found.append((lines, payload))
    return found


def _json_array(text: str) -> tuple[list[Any], str] | None:
    """The elements of a JSON-array stream, and what could not be parsed (a truncated end)."""
    stripped = text.lstrip()
    if not stripped.startswith("["):
        return None
    decoder, i = json.JSONDecoder(), 1
    items: list[Any] = []
    while True:
        while i < len(stripped) and stripped[i] in " \t\r\n,":
            i += 1
        if i >= len(stripped) or stripped[i] == "]":
            return items, ""
        try:
            item, i = decoder.raw_decode(stripped, i)
        except ValueError:
            return items, stripped[i:]
        items.append(item)


def redact_stream(data: bytes, json_paths: tuple[str, ...], patterns: tuple[str, ...]) -> str:
    """A stored stream with JSON paths redacted per event and patterns over each channel's whole text."""
    text = data.decode(errors="replace")
    rx = compile_patterns(patterns)
    array = _json_array(text)
    if array is not None:
        items, rest = array
        for p in json_paths:
            for item in items:
                redact_path(item, parse_path(p))
        if rx is not None:
            redact_events(items, rx)
        out = "[" + ",".join(orjson.dumps(item).decode() for item in items) + ("," + rest if rest else "]")
    else:
        events = _sse_events(text)
        parsed = [payload for _, payload in events if isinstance(payload, (dict, list))]
        for p in json_paths:
            for payload in parsed:
                redact_path(payload, parse_path(p))
        if rx is not None:
            redact_events(parsed, rx)
        blocks = []
        for lines, payload in events:
            if payload is not None:
                lines = lines + ["data: " + (payload if isinstance(payload, str) else orjson.dumps(payload).decode())]
            blocks.append("\n".join(lines))
        out = "\n\n".join(blocks) + ("\n\n" if blocks else "")
    return rx.sub(REDACTED, out) if rx is not None else out
