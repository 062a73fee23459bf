"""The OpenAI Chat Completions wire format (``openai.chat``): validation, usage, errors.

Validation follows the reference (the Databricks Foundation Model REST API docs): value
ranges, roles and their order, ``tool_call_id`` only on tool messages, at most 32 tools,
``top_logprobs`` only with ``logprobs``. ``strict`` adds the reference's
rules that OpenAI itself does not have (one system message, first).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from plugins.openai.chat_for_openai import fit_for_openai
from plugins.openai.reference_schema import check_function_properties, check_json_schema, check_tool_calls
from plugins.unified.chat_content import validate_content_parts
from plugins.openai import schemas
from proxy.checks import boolean, int_at_least, is_int, number_in, object_field, one_of, stop_sequences
from plugins.openai.errors import openai_error_body, openai_quota_exhausted
from proxy import hookimpl
from proxy.apis import (
    STREAM_COMPLETE,
    STREAM_PROVIDER_ERROR,
    Api,
    ApiRegistry,
    StreamFilter,
    StreamMeter,
    usage_value_present,
)
from proxy.exchange import TranslateOptions
from proxy.usage import Usage
from proxy.errors import GatewayError, RequestRejected

MAX_TOOLS = 32               # the reference's limit (strict)
OPENAI_MAX_TOOLS = 128       # OpenAI's own
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
STRICT_ROLES = ("system", "developer", "user", "assistant", "tool")


def usage_from_openai(u: dict[str, Any] | None) -> Usage:
    """Chat and completions usage, with the detail objects and Databricks' flat reasoning_tokens."""
    if not u:
        return Usage()
    prompt_details = u.get("prompt_tokens_details") or {}
    completion_details = u.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=u.get("prompt_tokens") or 0,
        output_tokens=u.get("completion_tokens") or 0,
        cached_input_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or u.get("reasoning_tokens") or 0,
        total_tokens=u.get("total_tokens") or 0,
    )


class ChatStreamMeter(StreamMeter):
    """Chat and completions streams end with ``data: [DONE]``; an ``{"error": ...}`` event ends
    them too (OpenAI closes the stream after it)."""

    __slots__ = ()
    has_quiet = True

    def quiet(self, chunk: bytes) -> bool:
        # Whole ``data: {..}\n\n`` events only: it starts with ``data: {`` and ends with ``}\n\n``,
        # and its first newline is its second to last byte (one event; more: quiet_lines, where each
        # event but the last is followed by the next and JSON holds no raw newline, so no other line
        # is left). Then no line is malformed or, within the size limit, oversize, and none is the
        # ``[DONE]`` terminator. An error event is one whose payload starts with ``{"error"`` (spaces
        # aside: within its first 12 bytes), and no line carries usage when every ``"usage`` in it is
        # ``"usage":null`` (what OpenAI sends in every chunk once usage is asked for).
        if (self._tail or not chunk.endswith(b"}\n\n") or not chunk.startswith(b"data: {")
                or len(chunk) > self.max_event_bytes):
            return False
        if chunk.find(b"\n") != len(chunk) - 2:
            return self.quiet_lines(chunk)
        if chunk.find(b'"error"', 6, 18) >= 0:
            return False
        usage = chunk.count(b'"usage')
        return not usage or usage == chunk.count(b'"usage":null')

    def quiet_lines(self, block: bytes) -> bool:
        # The same for whole lines of ``data: {..}`` events cut anywhere between lines: it may begin
        # with the blank line of the event before, and end before its last event's blank line.
        lead = block.startswith(b"\n")
        if not block.startswith(b"data: {", lead) or len(block) > self.max_event_bytes:
            return False
        if block.endswith(b"}\n\n"):
            ending = 2
        elif block.endswith(b"}\n"):
            ending = 1
        else:
            return False
        between = block.count(b"\n") - lead - ending
        if between & 1 or block.count(b"}\n\ndata: {") != between >> 1 or b'"error"' in block:
            return False
        usage = block.count(b'"usage')
        return not usage or usage == block.count(b'"usage":null')

    def terminal(self, payload: bytes) -> str:
        return STREAM_PROVIDER_ERROR if payload[:12].replace(b" ", b"").startswith(b'{"error"') else ""

    def on_other(self, payload: bytes) -> bool:
        if payload == b"[DONE]":
            self.end = self.end or STREAM_COMPLETE
            return True
        return False

    def on_event(self, event: dict[str, Any]) -> None:
        self.usage = usage_from_openai(event.get("usage"))


class UsageChunkFilter:
    """Drops the usage-only chunk (``choices: []``) of a stream whose client did
    not ask for usage; we asked for it upstream so every stream is metered.

    Forwards whole events only, so an event split across reads is never cut.
    """

    __slots__ = ("pending",)
    #: with nothing pending, whole events without a usage value pass unchanged (ExchangeStream.feed)
    passes_whole_events = True

    def __init__(self) -> None:
        self.pending = b""

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest

    def __call__(self, chunk: bytes) -> bytes:
        data = self.pending + chunk if self.pending else chunk
        cut = data.rfind(b"\n\n")
        if cut < 0:
            self.pending = data
            return b""
        complete, self.pending = data[:cut + 2], data[cut + 2:]
        usage = complete.count(b'"usage')
        if usage == complete.count(b'"usage":null') or not usage_value_present(complete):
            return complete                 # (every "usage" null: what OpenAI sends until the last chunk)
        return b"".join(event + b"\n\n" for event in complete.split(b"\n\n")
                        if event and not (usage_value_present(event) and _no_choices(event)))


def _no_choices(event: bytes) -> bool:
    i = event.find(b'"choices"')
    return i >= 0 and event[i + 9:i + 16].lstrip(b": ").startswith(b"[]")


def _messages(messages: Any, strict: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise RequestRejected("'messages' must be a non-empty list of messages", param="messages")
    roles = STRICT_ROLES if strict else ROLES
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RequestRejected(f"'{where}' must be an object", param=where)
        role = m.get("role")
        if role not in roles:
            raise RequestRejected(f"'{where}.role' must be one of {', '.join(roles)}; got {role!r}",
                                  param=f"{where}.role")
        if role == "tool":
            if not isinstance(m.get("tool_call_id"), str):
                raise RequestRejected(f"'{where}.tool_call_id' is required on tool messages",
                                      param=f"{where}.tool_call_id")
        elif m.get("tool_call_id") is not None:
            raise RequestRejected(f"'{where}.tool_call_id' is only allowed on messages with role 'tool'",
                                  param=f"{where}.tool_call_id")
        if m.get("tool_calls") is not None:
            if role != "assistant":
                raise RequestRejected(f"'{where}.tool_calls' is only allowed on assistant messages",
                                      param=f"{where}.tool_calls")
            if not isinstance(m["tool_calls"], list):
                raise RequestRejected(f"'{where}.tool_calls' must be a list", param=f"{where}.tool_calls")
        content = m.get("content")
        if content is None:
            if role != "assistant" or not m.get("tool_calls"):
                if role != "assistant":
                    raise RequestRejected(f"'{where}.content' is required", param=f"{where}.content")
        elif not isinstance(content, (str, list)):
            raise RequestRejected(f"'{where}.content' must be a string or a list of content parts",
                                  param=f"{where}.content")
        elif isinstance(content, list):
            validate_content_parts(content, f"{where}.content")
        if strict and role == "system" and i != 0:
            raise RequestRejected(f"'{where}': a system message is only allowed once, as the first message",
                                  param=f"{where}.role")


def _tools(body: dict[str, Any], strict: bool) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise RequestRejected("'tools' must be a list", param="tools")
    limit = MAX_TOOLS if strict else OPENAI_MAX_TOOLS
    if len(tools) > limit:
        raise RequestRejected(f"'tools' allows at most {limit} tools, got {len(tools)}", param="tools")
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or not isinstance(t.get("type"), str):
            raise RequestRejected(f"'tools[{i}]' must be an object with a 'type'", param=f"tools[{i}]")
        if t["type"] == "function":
            fn = t.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise RequestRejected(f"'tools[{i}].function.name' is required", param=f"tools[{i}].function.name")
    choice = body.get("tool_choice")
    if choice is not None and not isinstance(choice, dict) and choice not in ("none", "auto", "required"):
        raise RequestRejected(f"'tool_choice' must be none, auto, required or an object; got {choice!r}",
                              param="tool_choice")


def _response_format(body: dict[str, Any], strict: bool) -> None:
    rf = object_field(body, "response_format")
    if rf is None:
        return
    kind = rf.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise RequestRejected(f"'response_format.type' must be text, json_object or json_schema; got {kind!r}",
                              param="response_format.type")
    if kind == "json_schema" and not isinstance(rf.get("json_schema"), dict):
        raise RequestRejected("'response_format.json_schema' is required when type is json_schema",
                              param="response_format.json_schema")
    if kind == "json_schema":
        check_json_schema(rf["json_schema"], "response_format.json_schema", strict)


#: sampling fields in the order they are checked (the first error wins); each check accepts a missing
#: field, so a request only pays for the fields it sends
_SAMPLING_CHECKS: tuple[tuple[str, Callable[[dict[str, Any], str], None]], ...] = (
    ("temperature", partial(number_in, lo=0, hi=2)),
    ("top_p", partial(number_in, lo=0, hi=1, lo_open=True)),
    ("top_k", partial(int_at_least, lo=1)),
    ("presence_penalty", partial(number_in, lo=-2, hi=2)),
    ("frequency_penalty", partial(number_in, lo=-2, hi=2)),
    ("max_tokens", partial(int_at_least, lo=1)),
    ("max_completion_tokens", partial(int_at_least, lo=1)),
    ("n", partial(int_at_least, lo=1)),
    ("seed", partial(int_at_least, lo=-(1 << 63))),
    ("stream", boolean),
    ("logprobs", boolean),
    ("stop", stop_sequences),
)


def validate_sampling(body: dict[str, Any]) -> None:
    for name, check in _SAMPLING_CHECKS:
        if name in body:
            check(body, name)
    if body.get("stream_options") is not None:
        if object_field(body, "stream_options") is not None and body.get("stream") is not True:
            raise RequestRejected("'stream_options' is only allowed when 'stream' is true", param="stream_options")


class OpenAIStyleApi(Api):
    """What chat and legacy completions share: metered streams, usage and OpenAI's error shape."""

    meter_class = ChatStreamMeter

    def for_provider(self, body: dict[str, Any], options: TranslateOptions) -> dict[str, Any]:
        return fit_for_openai(body, options)

    def upstream_body(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        if not stream:
            return body
        options = body.get("stream_options") or {}
        if options.get("include_usage") is True:
            return body
        # Meter every stream: ask for usage, and hide the extra chunk from the client (stream_filter).
        return {**body, "stream_options": {**options, "include_usage": True}}

    def stream_filter(self, body: dict[str, Any]) -> StreamFilter | None:
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return None
        return UsageChunkFilter()

    def usage_from_body(self, body: Any) -> Usage:
        return usage_from_openai(body.get("usage") if isinstance(body, dict) else None)

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return openai_error_body(err, request_id)

    def quota_exhausted(self, body: bytes) -> bool:
        return openai_quota_exhausted(body)

    def stream_error_event(self, err: GatewayError, request_id: str) -> bytes:
        # OpenAI streams carry errors as a data-only event with an "error" object.
        return b"data: " + orjson.dumps(openai_error_body(err, request_id)) + b"\n\n"


class OpenAIChat(OpenAIStyleApi):
    id = "openai.chat"
    request_schema = schemas.CHAT
    capped = (("n", "max_n"), ("max_tokens", "max_output_tokens"), ("max_completion_tokens", "max_output_tokens"))

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _messages(body.get("messages"), strict)
        validate_sampling(body)
        top = body.get("top_logprobs")
        if top is not None:
            int_at_least(body, "top_logprobs", 0, 20)
            if body.get("logprobs") is not True:
                raise RequestRejected("'top_logprobs' requires 'logprobs': true", param="top_logprobs")
        _tools(body, strict)
        _response_format(body, strict)
        check_tool_calls(body.get("messages"))
        check_function_properties(body.get("tools"), strict)
        one_of(body, "reasoning_effort", ("none", "minimal", "low", "medium", "high", "xhigh"))

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        v = body.get("max_completion_tokens") or body.get("max_tokens")
        n = body["n"] if is_int(body.get("n")) else 1
        return v * n if is_int(v) else 0


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(OpenAIChat())
