#!/usr/bin/env python3
"""Cost per request of the reference-fidelity steps added for issue 16, through the real functions.

- the chat passthrough to OpenAI (``Api.for_provider``: ``top_k`` and content items fitted) for a
  plain request and for one holding every reference content item;
- the Responses reference shapes rewritten at validation (nested tools, nested json_schema, an
  object output);
- a chat request with documents and signed reasoning translated to Anthropic and to Gemini.

Prints microseconds per call. Numbers, not assertions.

    .venv/bin/python tests/bench/bench_fidelity.py [-n 20000]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from plugins.anthropic.backend import request_from_chat as to_anthropic
from plugins.gemini.backend import request_from_chat as to_gemini
from plugins.openai.chat_for_openai import fit_for_openai
from plugins.openai.responses_shapes import to_openai_shapes
from proxy.exchange import TranslateOptions

PLAIN = {"model": "chat", "messages": [{"role": "user", "content": "hello " * 50}], "max_tokens": 256}
ITEMS = {"model": "chat", "max_tokens": 256, "messages": [
    {"role": "user", "content": [
        {"type": "text", "text": "Summarise."},
        {"type": "document", "title": "Intro", "source": {"type": "base64", "media_type": "application/pdf",
                                                          "data": "JVBERi0xLjQK" * 100}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Relaygate. " * 50}}]},
    {"role": "assistant", "content": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Think.", "signature": "c2ln"}]},
        {"type": "text", "text": "Done."}]},
    {"role": "user", "content": "More?"}]}
RESPONSES = {"model": "m", "input": [
    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": {"q": 1}},
    {"type": "function_call_output", "call_id": "c1", "output": {"temp": 21}}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "text": {"format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}}}


def per_call(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20000)
    n = parser.parse_args().n
    no_items = [s for s in ITEMS["messages"] if isinstance(s["content"], str)]
    rows = [
        ("chat -> openai, plain (for_provider)", lambda: fit_for_openai(PLAIN, TranslateOptions(target="openai"))),
        ("chat -> openai, every item mapped", lambda: fit_for_openai(
            {**ITEMS, "messages": [ITEMS["messages"][0], *no_items]}, TranslateOptions(target="openai"))),
        ("responses shapes rewritten (copy incl.)", lambda: to_openai_shapes(copy.deepcopy(RESPONSES))),
        ("responses deepcopy alone (baseline)", lambda: copy.deepcopy(RESPONSES)),
        ("chat -> anthropic, items", lambda: to_anthropic(ITEMS, "claude-sonnet-4-6", TranslateOptions())),
        ("chat -> gemini, items", lambda: to_gemini(ITEMS, "gemini-2.5-flash", TranslateOptions())),
    ]
    for name, fn in rows:
        print(f"{name:45s} {per_call(fn, n):8.2f} us/call")


if __name__ == "__main__":
    main()
