"""Scripted behaviour for the fake upstreams: ``Behavior``, ``ToolCall``, ``Usage``.

Re-exported by ``support.fake_base`` (and usable as ``from support.behavior import Behavior``).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TEXT = "Hello from the fake model."


@dataclass
class ToolCall:
    name: str
    arguments: dict = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass
class Usage:
    """Provider-neutral token counts, mapped by each fake to its native names."""
    input_tokens: int = 12
    output_tokens: int = 8          # includes reasoning tokens (OpenAI semantics)
    reasoning_tokens: int = 0
    cached_tokens: int = 0          # OpenAI cached_tokens / Anthropic cache_read / Gemini cachedContent
    cache_creation_tokens: int = 0  # Anthropic cache_creation_input_tokens
    cache_creation_1h_tokens: int = 0   # the part of it written with ttl "1h"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class Behavior:
    """What the fake does for one (or ``times``) matching request(s).

    Failure: ``status`` >= 400 answers with the provider's exact error body
    (``error_type``/``error_message``/``error_code``/``error_param`` override the
    defaults for that status; ``error_body`` replaces the whole body) and an
    optional ``Retry-After`` header (``retry_after``).

    Timing: ``latency`` seconds before headers; ``chunk_delay`` between stream
    events; ``stall="headers"`` never answers, ``stall="stream"`` stops after
    ``stall_after`` events — both until the client disconnects (recorded in
    ``fake.disconnects``).

    Streams: ``chunks`` = number of text deltas; ``break_after=k`` sends k events
    then aborts the connection (``break_clean=True``: ends the body cleanly
    instead) without the terminal event(s); ``malformed=True`` puts invalid JSON
    in data line ``malformed_at`` (JSON replies are truncated instead);
    ``stream_error_after=k`` emits the provider's mid-stream error event after k
    events and ends the stream.

    Content: ``text``, ``tool_calls`` (``ToolCall`` or ``{"name","arguments"[,"id"]}``),
    ``reasoning`` (thinking text), ``usage`` (``Usage`` or dict of its fields),
    ``finish_reason`` (provider-native value), ``model`` (else echo the request),
    ``body`` (a JSON reply that replaces everything), ``raw`` (bytes/str sent
    verbatim with ``content_type``), ``headers`` (extra response headers).

    Matching: ``times`` requests (``None`` = forever), only requests whose path
    contains ``match`` and whose raw body contains ``match_body`` (if set), e.g.
    ``Behavior(status=500, times=None, match_body='"model":"bad"')`` fails one model only.
    """
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    error_code: Any = None
    error_param: Any = None
    error_body: Any = None
    retry_after: float | int | str | None = None
    headers: dict = field(default_factory=dict)
    latency: float = 0.0
    chunks: int = 3
    chunk_delay: float = 0.0
    break_after: int | None = None
    break_clean: bool = False
    malformed: bool = False
    malformed_at: int = 1
    stall: str | None = None          # None | "headers" | "stream"
    stall_after: int = 1
    stream_error_after: int | None = None
    text: str | None = None
    tool_calls: list | None = None
    reasoning: str | None = None
    usage: Usage | dict | None = None
    finish_reason: str | None = None
    model: str | None = None
    body: Any = None
    raw: bytes | str | None = None
    content_type: str = "application/json"
    times: int | None = 1
    match: str | None = None
    match_body: str | None = None

    # ---- helpers used by the provider fakes
    def get_usage(self) -> Usage:
        if self.usage is None:
            return Usage()
        return self.usage if isinstance(self.usage, Usage) else Usage(**self.usage)

    def get_tool_calls(self, id_prefix: str = "call_") -> list[ToolCall]:
        out = []
        for i, tc in enumerate(self.tool_calls or []):
            if isinstance(tc, dict):
                tc = ToolCall(tc["name"], tc.get("arguments") or {}, tc.get("id"))
            if tc.id is None:
                tc = ToolCall(tc.name, tc.arguments, f"{id_prefix}fake{i:02d}{uuid.uuid4().hex[:8]}")
            out.append(tc)
        return out

    def get_text(self) -> str | None:
        """The reply text: ``text`` if set, else the default unless tool calls were scripted."""
        if self.text is not None:
            return self.text
        return None if self.tool_calls else DEFAULT_TEXT

    def text_chunks(self, text: str | None = None) -> list[str]:
        return split_chunks(self.get_text() if text is None else text, self.chunks)


def split_chunks(text: str, n: int) -> list[str]:
    """Split ``text`` into ``n`` (>=1) non-empty contiguous pieces where possible."""
    n = max(1, min(n, len(text))) if text else 1
    size, rem = divmod(len(text), n)
    out, pos = [], 0
    for i in range(n):
        step = size + (1 if i < rem else 0)
        out.append(text[pos:pos + step])
        pos += step
    return out
