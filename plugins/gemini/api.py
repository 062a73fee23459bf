"""The Gemini wire format: ``gemini.generate`` (generateContent and streamGenerateContent),
``gemini.count_tokens``, ``gemini.embed`` and ``gemini.batch_embed``.

The body never names the model (the URL does) and validation stays light:
native passthrough must not break on fields we do not know
(``parametersJsonSchema``, ``thinkingLevel``, ``functionCall.id``, ...).

Usage in the gateway's vocabulary: ``input_tokens`` is ``promptTokenCount``
(cached content included, ``cachedContentTokenCount`` its cached part);
``output_tokens`` is candidates plus thoughts, as OpenAI counts reasoning
inside completion tokens.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.checks import is_int
from proxy import hookimpl
from proxy.apis import (
    STREAM_COMPLETE,
    STREAM_FAULTS,
    STREAM_MALFORMED,
    STREAM_OVERSIZE,
    STREAM_PROVIDER_ERROR,
    Api,
    ApiRegistry,
    StreamMeter,
)
from proxy.shapes import check
from proxy.usage import Usage
from plugins.gemini import schema
from plugins.gemini.client import camel
from plugins.gemini.errors import gemini_quota_exhausted, gemini_status_name
from proxy.errors import GatewayError, RequestRejected

def gemini_error_body(err: GatewayError, request_id: str) -> dict[str, Any]:
    return {"error": {"code": err.status, "message": err.message, "status": gemini_status_name(err.status)}}


def usage_from_gemini(meta: Any) -> Usage:
    if not isinstance(meta, dict):
        return Usage()
    # Tool-use prompt tokens (the results of Google's own tools) are billed as input.
    prompt = (meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount") or 0)
    candidates = meta.get("candidatesTokenCount") or 0
    thoughts = meta.get("thoughtsTokenCount") or 0
    return Usage(input_tokens=prompt, output_tokens=candidates + thoughts,
                 cached_input_tokens=meta.get("cachedContentTokenCount") or 0, reasoning_tokens=thoughts,
                 total_tokens=meta.get("totalTokenCount") or 0)


_KEY = b'"usageMetadata"'


def _object_end(data: bytes, start: int) -> int:
    """End (exclusive) of the JSON object beginning at ``data[start] == '{'``, or -1 if not all here.

    Counting braces is enough: a usageMetadata object holds only numbers,
    modality names and nested objects, never a brace inside a string.
    """
    depth = 0
    for i in range(start, len(data)):
        c = data[i]
        if c == 0x7B:        # {
            depth += 1
        elif c == 0x7D:      # }
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


class GeminiStreamMeter(StreamMeter):
    """Usage and end of both Gemini streams: ``alt=sse`` events and the default JSON array.

    Usage: neither stream is parsed as a whole; we look for ``"usageMetadata"``
    and parse only the small object after it. Later chunks repeat the running
    totals, so the last one seen wins.

    End: the chunk with a candidate's ``finishReason`` is the last (it carries
    the final usage); an ``{"error": ...}`` event or element ends a failed
    stream. Array elements are told apart by the ``\n,`` Gemini writes between
    them, and a complete array must close with ``]``.
    """

    __slots__ = ("_usage_tail", "_array", "_finished")

    def __init__(self) -> None:
        super().__init__()
        self._usage_tail = b""
        self._array: bool | None = None      # None until the first byte tells SSE from array
        self._finished = False

    def feed(self, chunk: bytes) -> None:
        self._meter_usage(chunk)
        if self._array is None:
            head = chunk.lstrip()
            if not head:
                return
            self._array = head[:1] == b"["
        if self._array:
            self._feed_array(chunk)
        else:
            super().feed(chunk)

    def terminal(self, payload: bytes) -> str:
        if payload[:12].replace(b" ", b"").startswith(b'{"error"'):
            return STREAM_PROVIDER_ERROR
        return STREAM_COMPLETE if b'"finishReason"' in payload else ""

    def _feed_array(self, chunk: bytes) -> None:
        data = self._tail + chunk if self._tail else chunk
        i = data.rfind(b"\n,")
        if i < 0:
            self._tail = data
        else:
            for element in data[:i].split(b"\n,"):
                self._element(element)
            self._tail = data[i + 2:]
        if len(self._tail) > self.max_event_bytes and not self.end:
            self.end = STREAM_OVERSIZE

    def _element(self, element: bytes) -> None:
        body = element.strip().removeprefix(b"[").lstrip()
        if not body or self.end in STREAM_FAULTS:
            return
        if body[0] != 0x7B or body[-1] != 0x7D:
            self.end = self.end or STREAM_MALFORMED
            return
        kind = self.terminal(body)
        if kind == STREAM_PROVIDER_ERROR:
            self.end = self.end or kind
        elif kind:
            self._finished = True             # complete only once the array closes, too

    def close(self) -> None:
        if not self._array:
            super().close()
            return
        tail, self._tail = self._tail.rstrip(), b""
        closed = tail.endswith(b"]")
        self._element(tail[:-1] if closed else tail)
        if closed and self._finished and not self.end:
            self.end = STREAM_COMPLETE

    def _meter_usage(self, chunk: bytes) -> None:
        data = self._usage_tail + chunk if self._usage_tail else chunk
        pos = 0
        while True:
            i = data.find(_KEY, pos)
            if i < 0:
                # Keep enough bytes to find a key split across two chunks.
                self._usage_tail = data[max(pos, len(data) - len(_KEY) + 1):]
                return
            j = i + len(_KEY)
            while j < len(data) and data[j] in b" \t\r\n:":
                j += 1
            if j >= len(data):
                self._usage_tail = data[i:]
                return
            if data[j] != 0x7B:  # not an object (null): skip it
                pos = j
                continue
            end = _object_end(data, j)
            if end < 0:
                self._usage_tail = data[i:] if len(data) - i < 65536 else b""
                return
            try:
                self.usage = usage_from_gemini(orjson.loads(data[j:end]))
            except orjson.JSONDecodeError:
                pass
            pos = end

    def meter(self, payload: bytes) -> None:
        """Usage comes from :meth:`_meter_usage`, which sees every byte once."""


def _object_list(body: dict[str, Any], name: str, *, required: bool) -> list[Any] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise RequestRejected(f"'{name}' is required", param=name)
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RequestRejected(f"'{name}' must be a list of objects", param=name)
    return value


def _contents(body: dict[str, Any], *, required: bool) -> None:
    contents = _object_list(body, "contents", required=required)
    for i, c in enumerate(contents or []):
        parts = c.get("parts")
        if parts is not None and not isinstance(parts, list):
            raise RequestRejected(f"'contents[{i}].parts' must be a list", param=f"contents[{i}].parts")


class GeminiBase(Api):
    meter_class = GeminiStreamMeter

    def is_stream(self, body: dict[str, Any]) -> bool:
        return False            # Gemini streams by method (streamGenerateContent), never by body

    def usage_from_body(self, body: Any) -> Usage:
        if isinstance(body, list):   # a buffered JSON-array stream: the last usage wins
            metas = [b.get("usageMetadata") for b in body if isinstance(b, dict) and b.get("usageMetadata")]
            return usage_from_gemini(metas[-1] if metas else None)
        return usage_from_gemini(body.get("usageMetadata") if isinstance(body, dict) else None)

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return gemini_error_body(err, request_id)

    def quota_exhausted(self, body: bytes) -> bool:
        return gemini_quota_exhausted(body)

    def stream_error_event(self, err: GatewayError, request_id: str) -> bytes:
        # Gemini's alt=sse framing: data-only events ending in CRLF CRLF.
        return b"data: " + orjson.dumps(gemini_error_body(err, request_id)) + b"\r\n\r\n"

    def check_shape(self, body: dict[str, Any]) -> None:
        # Proto JSON's snake_case spellings too: checked as the translators read them.
        if self.request_schema is not None:
            check(camel(body), self.request_schema)

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        config = body.get("generationConfig")
        v = config.get("maxOutputTokens") if isinstance(config, dict) else None
        return v if is_int(v) else 0


class GeminiGenerate(GeminiBase):
    id = "gemini.generate"
    request_schema = schema.GENERATE
    capped = (("generationConfig.candidateCount", "max_n"), ("generationConfig.maxOutputTokens", "max_output_tokens"))

    def json_array_stream(self, path_params: dict[str, str]) -> bool:
        # streamGenerateContent without alt=sse answers one JSON array, element by element.
        return path_params.get("alt", "sse") != "sse"

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _contents(body, required=True)
        for name in ("generationConfig", "systemInstruction", "toolConfig"):
            if body.get(name) is not None and not isinstance(body[name], dict):
                raise RequestRejected(f"'{name}' must be an object", param=name)
        _object_list(body, "tools", required=False)
        _object_list(body, "safetySettings", required=False)


class GeminiCountTokens(GeminiBase):
    id = "gemini.count_tokens"
    request_schema = schema.COUNT_TOKENS

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _contents(body, required=False)
        request = body.get("generateContentRequest")
        if request is not None and not isinstance(request, dict):
            raise RequestRejected("'generateContentRequest' must be an object", param="generateContentRequest")

    def usage_from_body(self, body: Any) -> Usage:
        return Usage()          # counting tokens consumes none


class GeminiEmbed(GeminiBase):
    id = "gemini.embed"
    request_schema = schema.EMBED

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        if not isinstance(body.get("content"), dict):
            raise RequestRejected("'content' is required and must be an object", param="content")


class GeminiBatchEmbed(GeminiBase):
    id = "gemini.batch_embed"
    request_schema = schema.BATCH_EMBED
    capped = (("requests", "max_embedding_inputs"),)

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        requests = _object_list(body, "requests", required=True)
        for i, r in enumerate(requests or []):
            if not isinstance(r.get("content"), dict):
                raise RequestRejected(f"'requests[{i}].content' is required and must be an object",
                                      param=f"requests[{i}].content")


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    for api in (GeminiGenerate(), GeminiCountTokens(), GeminiEmbed(), GeminiBatchEmbed()):
        registry.add(api)
