"""Gemini usage: from bodies, from alt=sse streams and from JSON-array streams split at any byte."""

from __future__ import annotations

import json

import pytest

from plugins.gemini.api import GeminiGenerate, GeminiStreamMeter, usage_from_gemini
from proxy.usage import Usage


def meta(prompt: int, candidates: int, thoughts: int = 0, cached: int = 0) -> dict:
    return {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts,
            "cachedContentTokenCount": cached, "totalTokenCount": prompt + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}


def chunk(text: str, usage: dict | None) -> dict:
    out: dict = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]}
    if usage is not None:
        out["usageMetadata"] = usage
    return out


CHUNKS = [chunk("a {brace} in text", meta(10, 1)), chunk("b", None), chunk("c", meta(10, 4, 3, 2))]
EXPECTED = Usage(input_tokens=10, output_tokens=7, cached_input_tokens=2, reasoning_tokens=3, total_tokens=17)


def sse_bytes() -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in CHUNKS)


def array_bytes(pretty: bool) -> bytes:
    # Real Gemini pretty-prints the array elements over many lines.
    return json.dumps(CHUNKS, indent=2 if pretty else None).encode()


def feed_split(data: bytes, cut: int) -> Usage:
    meter = GeminiStreamMeter()
    meter.feed(data[:cut])
    meter.feed(data[cut:])
    return meter.usage


@pytest.mark.parametrize("data", [sse_bytes(), array_bytes(False), array_bytes(True)],
                         ids=["sse", "array", "pretty-array"])
def test_last_usage_wins_wherever_the_stream_is_split(data):
    for cut in range(len(data) + 1):
        assert feed_split(data, cut) == EXPECTED, f"split at {cut}"


def test_byte_by_byte_and_null_usage():
    meter = GeminiStreamMeter()
    for b in array_bytes(True):
        meter.feed(bytes([b]))
    assert meter.usage == EXPECTED
    meter = GeminiStreamMeter()
    meter.feed(b'[{"usageMetadata": null, "candidates": []}]')
    assert meter.usage == Usage()


def test_usage_from_bodies():
    api = GeminiGenerate()
    assert api.usage_from_body(CHUNKS[2]) == EXPECTED
    assert api.usage_from_body(CHUNKS) == EXPECTED            # a buffered array: the last usage
    assert usage_from_gemini(None) == Usage()
