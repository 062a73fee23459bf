"""Metering a Responses stream: usage from its final event, the last ``sequence_number``, the
response id (for its owner), and the first event (to end a broken stream with ``response.failed``)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import orjson

from plugins.openai.responses_stream import CURRENT_STREAM, error_event_fields
from proxy import sse
from proxy.apis import STREAM_COMPLETE, STREAM_PROVIDER_ERROR, StreamMeter, starts_with_type
from proxy.usage import Usage

#: stream events whose ``response`` carries the final usage
FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
#: data-line prefixes of the events that end a stream: the response finished (incomplete is a
#: finished response too, e.g. max_output_tokens), or it failed
_COMPLETE_PREFIXES = (b'{"type":"response.completed"', b'{"type":"response.incomplete"')
_FAILED_PREFIXES = (b'{"type":"response.failed"', b'{"type":"error"')

#: called with a streamed response's id the moment the stream reveals it, before the client reads
#: it; set for each Responses request by plugins/openai/response_owners.py, which records its owner
RESPONSE_ID_SINK: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "response_id_sink", default=None)
#: how much of a stream's start is searched for the response id (response.created echoes the
#: request's instructions and tools, so it can be long)
ID_SEARCH_BYTES = 4 << 20
#: how much of a passthrough stream's first event is kept, to end a broken stream with its snapshot
FIRST_EVENT_LIMIT = 1 << 20


def usage_from_responses(u: Any) -> Usage:
    """Responses usage: input/output tokens with cached and reasoning details."""
    if not isinstance(u, dict):
        return Usage()
    return Usage(
        input_tokens=u.get("input_tokens") or 0,
        output_tokens=u.get("output_tokens") or 0,
        cached_input_tokens=(u.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
        total_tokens=u.get("total_tokens") or 0,
    )


class ResponsesStreamMeter(StreamMeter):
    """Usage from ``response.completed`` (or incomplete/failed); remembers the last
    ``sequence_number`` with one cheap byte search per chunk, the response id from the first
    event that carries one (its owner is recorded), and the first event (the
    ``response.created`` snapshot) so a stream the provider breaks still ends in
    ``response.failed``."""

    __slots__ = ("last_sequence", "response_id", "_id_head", "_failed", "_head", "_first")

    def __init__(self) -> None:
        super().__init__()
        self.last_sequence = -1
        self.response_id: str | None = None        # "" once the search gave up
        self._id_head = b""
        self._failed = False
        self._head: bytes | None = b""
        self._first = b""
        CURRENT_STREAM.set(self)

    def _find_response_id(self, chunk: bytes) -> None:
        self._id_head += chunk
        while (nl := self._id_head.find(b"\n")) >= 0:
            line, self._id_head = self._id_head[:nl], self._id_head[nl + 1:]
            if not line.startswith(b"data:") or b'"response"' not in line:
                continue
            try:
                event = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            response = event.get("response") if isinstance(event, dict) else None
            rid = response.get("id") if isinstance(response, dict) else None
            if isinstance(rid, str) and rid:
                self.response_id, self._id_head = rid, b""
                sink = RESPONSE_ID_SINK.get()
                if sink is not None:
                    sink(rid)
                return
        if len(self._id_head) > ID_SEARCH_BYTES:
            self.response_id, self._id_head = "", b""

    def feed(self, chunk: bytes) -> None:
        if self.response_id is None:
            self._find_response_id(chunk)
        i = chunk.rfind(b'"sequence_number":')
        if i >= 0:
            digits = chunk[i + 18:i + 40].lstrip(b" ")
            end = 0
            while end < len(digits) and 48 <= digits[end] <= 57:
                end += 1
            if end:
                self.last_sequence = max(self.last_sequence, int(digits[:end]))
        if self._head is not None:
            self._keep_first_event(chunk)
        super().feed(chunk)

    def terminal(self, payload: bytes) -> str:
        if starts_with_type(payload, _COMPLETE_PREFIXES):
            return STREAM_COMPLETE
        return STREAM_PROVIDER_ERROR if starts_with_type(payload, _FAILED_PREFIXES) else ""

    def _keep_first_event(self, chunk: bytes) -> None:
        head = self._head = (self._head or b"") + chunk
        end = head.find(b"\n\n")
        if end >= 0 or len(head) > FIRST_EVENT_LIMIT:
            self._first = head[:end] if end >= 0 else b""
            self._head = None

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") in FINAL_EVENTS:
            self.usage = usage_from_responses((event.get("response") or {}).get("usage"))

    def _created_snapshot(self) -> dict[str, Any] | None:
        for line in self._first.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    event = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    return None
                snapshot = event.get("response") if isinstance(event, dict) else None
                return dict(snapshot) if isinstance(snapshot, dict) else None
        return None

    def fail(self, error: dict[str, Any]) -> bytes:
        if self._failed or self.end in (STREAM_COMPLETE, STREAM_PROVIDER_ERROR):
            return b""                           # the provider's own terminal event went out
        seq = self.last_sequence + 1
        fields = error_event_fields(error)
        out = sse.event("error", {"type": "error", **fields, "sequence_number": seq})
        snapshot = self._created_snapshot()
        if snapshot is not None:
            # OpenAI's Response.error.code is an enum: the relay's failures are server_error there
            snapshot.update(status="failed", error={"code": "server_error", "message": fields["message"]})
            out += sse.event("response.failed", {"type": "response.failed", "response": snapshot,
                                                 "sequence_number": seq + 1})
        self._failed = True
        return out
