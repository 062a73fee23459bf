"""The Anthropic Messages wire format (``anthropic.messages``, ``anthropic.count_tokens``).

Validation is deliberately light: the surface passes bodies natively to
Anthropic, which knows its own rules better than we do and adds fields and
block types faster than we could follow. We check only what the gateway
itself relies on (the types of ``model``, ``max_tokens``, ``messages`` and
the roles) and never reject an unknown field or content block. Claude Code
sends ``role: "system"`` in the middle of ``messages`` (a beta), so that role
is allowed too.

Usage in the gateway's vocabulary: ``input_tokens`` counts uncached input
plus cache reads (cache reads are its cached subset, as with OpenAI), cache
writes are ``cache_creation_tokens`` on their own (their one-hour part, from
``cache_creation.ephemeral_1h_input_tokens``, also in ``cache_creation_1h_tokens``),
and the total adds all three to the output.
"""

from __future__ import annotations

from typing import Any

from proxy.checks import boolean, int_at_least, is_int
from proxy import hookimpl
from proxy.apis import STREAM_COMPLETE, STREAM_PROVIDER_ERROR, Api, ApiRegistry, StreamMeter, starts_with_type
from proxy.usage import Usage
from plugins.anthropic import schema
from plugins.anthropic.errors import anthropic_error_type, anthropic_quota_exhausted
from proxy.errors import GatewayError, RequestRejected

ROLES = ("user", "assistant", "system")

def anthropic_error_body(err: GatewayError, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": anthropic_error_type(err.status), "message": err.message},
            "request_id": request_id}


def usage_from_anthropic(u: dict[str, Any] | None) -> Usage:
    """Usage of a Message, of ``message_start`` or (cumulative) of ``message_delta``."""
    if not u:
        return Usage()
    fresh = u.get("input_tokens") or 0
    read = u.get("cache_read_input_tokens") or 0
    written = u.get("cache_creation_input_tokens") or 0
    out = u.get("output_tokens") or 0
    by_ttl = u.get("cache_creation")
    hour = (by_ttl.get("ephemeral_1h_input_tokens") or 0) if isinstance(by_ttl, dict) else 0
    return Usage(input_tokens=fresh + read, output_tokens=out, cached_input_tokens=read,
                 cache_creation_tokens=written, cache_creation_1h_tokens=hour,
                 total_tokens=fresh + read + written + out)


class MessagesStreamMeter(StreamMeter):
    """``message_start`` carries input and cache tokens, ``message_delta`` the final output count.

    ``message_delta`` counts are cumulative and may be null: each non-null one
    replaces the earlier value of the same counter.
    """

    __slots__ = ("_raw",)
    has_quiet = True

    def __init__(self) -> None:
        super().__init__()
        self._raw: dict[str, Any] = {}

    def quiet(self, chunk: bytes) -> bool:
        # One whole event, ``event: name\ndata: {..}\n\n`` (its three newlines: the first is followed
        # by ``data: {``): no line is malformed or, within the size limit, oversize. It ends the
        # stream only as ``message_stop`` or ``error`` and carries usage only with ``"usage``; JSON
        # escapes a quote inside a string, so those quoted names appear only as names or values.
        if (self._tail or not chunk.endswith(b"}\n\n") or not chunk.startswith(b"event: ")
                or len(chunk) > self.max_event_bytes or chunk.count(b"\n") != 3
                or chunk.find(b"\ndata: {") != chunk.find(b"\n")):
            return False
        return b'"usage' not in chunk and b'"error"' not in chunk and b'"message_stop"' not in chunk

    def terminal(self, payload: bytes) -> str:
        # message_stop ends every complete stream; an error event ends a failed one.
        if starts_with_type(payload, (b'{"type":"message_stop"',)):
            return STREAM_COMPLETE
        return STREAM_PROVIDER_ERROR if starts_with_type(payload, (b'{"type":"error"',)) else ""

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
        elif kind == "message_delta":
            usage = event.get("usage")
        else:
            return
        if isinstance(usage, dict):
            self._raw.update((k, v) for k, v in usage.items()
                             if isinstance(v, int) or (k == "cache_creation" and isinstance(v, dict)))
            self.usage = usage_from_anthropic(self._raw)


def _messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise RequestRejected("'messages' must be a list of messages", param="messages")
    for i, m in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(m, dict):
            raise RequestRejected(f"'{where}' must be an object", param=where)
        role = m.get("role")
        if role not in ROLES:
            raise RequestRejected(f"'{where}.role' must be one of {', '.join(ROLES)}; got {role!r}",
                                  param=f"{where}.role")
        content = m.get("content")
        if not isinstance(content, (str, list)):
            raise RequestRejected(f"'{where}.content' must be a string or a list of content blocks",
                                  param=f"{where}.content")


def _model(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise RequestRejected("'model' is required: name the gateway endpoint to call", param="model")


class AnthropicMessages(Api):
    id = "anthropic.messages"
    request_schema = schema.MESSAGES
    meter_class = MessagesStreamMeter
    capped: tuple[tuple[str, str], ...] = (("max_tokens", "max_output_tokens"),)

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _model(body)
        if body.get("max_tokens") is None:
            raise RequestRejected("'max_tokens' is required", param="max_tokens")
        int_at_least(body, "max_tokens", 1)
        _messages(body.get("messages"))
        boolean(body, "stream")
        system = body.get("system")
        if system is not None and not isinstance(system, (str, list)):
            raise RequestRejected("'system' must be a string or a list of text blocks", param="system")

    def usage_from_body(self, body: Any) -> Usage:
        return usage_from_anthropic(body.get("usage") if isinstance(body, dict) else None)

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return anthropic_error_body(err, request_id)

    def quota_exhausted(self, body: bytes) -> bool:
        return anthropic_quota_exhausted(body)

    # stream_error_event: the base class's ``event: error`` + error body is Anthropic's own shape.

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        v = body.get("max_tokens")
        return v if is_int(v) else 0


class AnthropicCountTokens(AnthropicMessages):
    """``/v1/messages/count_tokens``: the Messages body without ``max_tokens``; nothing is generated."""

    id = "anthropic.count_tokens"
    request_schema = schema.COUNT_TOKENS
    capped = ()                 # nothing is generated

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _model(body)
        _messages(body.get("messages"))

    def is_stream(self, body: dict[str, Any]) -> bool:
        return False

    def usage_from_body(self, body: Any) -> Usage:
        return Usage()          # counting tokens consumes none

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        return 0


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(AnthropicMessages())
    registry.add(AnthropicCountTokens())
