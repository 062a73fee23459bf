"""Wire APIs: what the gateway knows about each request/response format.

An :class:`Api` (one per format: ``openai.chat``, ``anthropic.messages``, ...)
validates a client body, says whether it streams, renders gateway errors in the
format's error shape, and extracts usage from a response body or a stream.
Plugins register them through ``relaygate_register_apis``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import orjson

from proxy.usage import Usage
from proxy.errors import GatewayError
from proxy.shapes import check

if TYPE_CHECKING:
    from proxy.exchange import TranslateOptions


def usage_value_present(line: bytes) -> bool:
    """True when *line* has a ``"usage"`` key whose value is not null (cheap byte scan)."""
    i = line.find(b'"usage')
    while i >= 0:
        j = line.find(b'"', i + 1)            # end of the key
        rest = line[j + 1:j + 12].lstrip(b": \t")
        if rest and not rest.startswith(b"null"):
            return True
        i = line.find(b'"usage', j + 1)
    return False


#: How a provider's stream ended, as its own bytes tell (:attr:`StreamMeter.end`); "" while open.
STREAM_COMPLETE = "complete"          # the provider's own terminator arrived
STREAM_PROVIDER_ERROR = "error"       # the provider's own terminal error event arrived (relayed as is)
STREAM_MALFORMED = "malformed"        # a data line that is not the JSON object the format requires
STREAM_OVERSIZE = "oversize"          # one event longer than server.max_stream_event_bytes
#: ends after which nothing more may be relayed: the relay cuts the stream with an error event
STREAM_FAULTS = (STREAM_MALFORMED, STREAM_OVERSIZE)

DEFAULT_MAX_EVENT_BYTES = 8 << 20


class StreamMeter:
    """Watches a provider's response stream for usage and for how it ends, cheaply.

    Splits the bytes into whole lines; each ``data:`` line gets byte checks
    only (starts with ``{`` and ends with ``}``, the format's terminator
    prefixes), and is parsed only when its ``usage`` value is not null.
    Subclasses implement :meth:`on_event` (usage), :meth:`terminal` and
    :meth:`on_other` (the format's end markers).
    """

    __slots__ = ("usage", "_tail", "end", "max_event_bytes")

    #: True when the format has :meth:`quiet`, a byte check that lets a chunk skip the line scan
    has_quiet = False

    def __init__(self) -> None:
        self.usage = Usage()
        self._tail = b""
        self.end = ""
        self.max_event_bytes = DEFAULT_MAX_EVENT_BYTES

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk if self._tail else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            self._tail = data[cut:]
            block = data[:cut] if cut < len(data) else data
            if not self.has_quiet or not self.quiet_lines(block):
                self._lines(block)
        else:
            self._tail = data
        if len(self._tail) > self.max_event_bytes and not self.end:
            self.end = STREAM_OVERSIZE

    def quiet(self, chunk: bytes) -> bool:
        """True when *chunk* (nothing held back before it) is whole events whose line scan would
        find nothing: no usage value, no terminator, no malformed or oversize line. The caller then
        skips :meth:`feed` for it; a format that can tell sets :attr:`has_quiet`."""
        return False

    def quiet_lines(self, block: bytes) -> bool:
        """:meth:`quiet` for whole lines that may start or end between the lines of an event (a
        read that split events: the saturated case)."""
        return False

    def close(self) -> None:
        """The provider's body ended: a last line without its newline still counts."""
        if self._tail:
            tail, self._tail = self._tail, b""
            self._lines(tail)

    def _lines(self, block: bytes) -> None:
        limit = self.max_event_bytes
        for line in block.split(b"\n"):
            if len(line) > limit:
                self.end = self.end or STREAM_OVERSIZE
                return
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if not payload:
                continue
            if payload[0] != 0x7B or payload[-1] != 0x7D:       # not {...}: JSON cut short, HTML, ...
                if not self.on_other(payload):
                    self.end = self.end or STREAM_MALFORMED
                    return
                continue
            if not self.end:
                self.end = self.terminal(payload)
            self.meter(payload)

    def terminal(self, payload: bytes) -> str:
        """STREAM_COMPLETE or STREAM_PROVIDER_ERROR when this data line ends the stream, else ""."""
        return ""

    def on_other(self, payload: bytes) -> bool:
        """A data line that is not a JSON object: True if the format allows it (``[DONE]``)."""
        return False

    def meter(self, payload: bytes) -> None:
        if usage_value_present(payload):
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                self.end = self.end or STREAM_MALFORMED
                return
            if isinstance(event, dict):
                self.on_event(event)

    def on_event(self, event: dict[str, Any]) -> None:
        """One parsed event that carries usage; update :attr:`usage`."""


def starts_with_type(payload: bytes, prefixes: tuple[bytes, ...]) -> bool:
    """True when the JSON object *payload* begins with one of *prefixes* (``{"type":"x"``),
    whatever its spacing: providers put ``type`` first in their events. A byte check, no parsing."""
    return payload[:96].replace(b" ", b"").startswith(prefixes)


class StreamFilter(Protocol):
    """Rewrites a passthrough stream's bytes for the client (whole events only)."""

    def __call__(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class Api:
    """Base class; each wire format subclasses it in plugins/apis/."""

    id: str = ""
    meter_class: type[StreamMeter] = StreamMeter
    stream_content_type = "text/event-stream"
    #: (dotted field path, cap in ``endpoints.<name>.caps``) checked before the provider (proxy.caps)
    capped: tuple[tuple[str, str], ...] = ()
    #: the JSON types of the fields translators read (proxy.shapes); also the body in /openapi.json
    request_schema: dict[str, Any] | None = None

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        """Raise RequestRejected naming the field. *strict*: the reference's extra rules."""

    def check_shape(self, body: dict[str, Any]) -> None:
        """Raise RequestRejected naming the first field whose JSON type no translator can read."""
        if self.request_schema is not None:
            check(body, self.request_schema)

    def is_stream(self, body: dict[str, Any]) -> bool:
        return body.get("stream") is True

    def for_provider(self, body: dict[str, Any], options: TranslateOptions) -> dict[str, Any]:
        """A passthrough body fitted to the provider kind (``options.target``): a parameter that
        kind refuses follows the endpoint's policy (``options.unsupported``). Never mutates *body*."""
        return body

    def upstream_body(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        """Adjust a passthrough body (e.g. ask for stream usage); :meth:`stream_filter` undoes
        that for the client."""
        return body

    def stream_filter(self, body: dict[str, Any]) -> StreamFilter | None:
        """A filter of a passthrough stream's bytes for the client that sent *body*, or None."""
        return None

    def json_array_stream(self, path_params: dict[str, str]) -> bool:
        """True when this client reads its stream as one JSON array instead of SSE."""
        return False

    def usage_from_body(self, body: Any) -> Usage:
        return Usage()

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def quota_exhausted(self, body: bytes) -> bool:
        """Whether a provider's 429 *body* (in this format) says the quota is gone, not just busy:
        waiting will not help, so the same provider is not tried again for this request."""
        return False

    def stream_error_event(self, err: GatewayError, request_id: str) -> bytes:
        """A final SSE event telling the client the stream failed mid-way."""
        return b"event: error\ndata: " + orjson.dumps(self.error_body(err, request_id)) + b"\n\n"

    def estimate_input_tokens(self, body: dict[str, Any], raw: bytes) -> int:
        """A cheap prompt-size estimate for token limits (about 4 bytes a token)."""
        return max(1, len(raw) // 4)

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        value = body.get("max_tokens") or body.get("max_completion_tokens") or body.get("max_output_tokens")
        return int(value) if isinstance(value, int) else 0


class ApiRegistry:
    def __init__(self) -> None:
        self._apis: dict[str, Api] = {}

    def add(self, api: Api) -> None:
        if api.id in self._apis:
            raise ValueError(f"API {api.id!r} registered twice")
        self._apis[api.id] = api

    def get(self, api_id: str) -> Api:
        return self._apis[api_id]

    def __contains__(self, api_id: str) -> bool:
        return api_id in self._apis

    def ids(self) -> list[str]:
        return sorted(self._apis)
