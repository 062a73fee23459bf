"""Anthropic usage in the gateway's vocabulary, from bodies and from the stream."""

from __future__ import annotations

import json

from plugins.anthropic.api import AnthropicMessages, MessagesStreamMeter, anthropic_error_type
from proxy.usage import Usage


def test_body_usage_counts_cache_reads_as_cached_input():
    body = {"usage": {"input_tokens": 5, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 3,
                      "output_tokens": 9, "cache_creation": None, "server_tool_use": None}}
    assert AnthropicMessages().usage_from_body(body) == Usage(
        input_tokens=25, output_tokens=9, cached_input_tokens=20, cache_creation_tokens=3, total_tokens=37)


def test_anthropic_meter_keeps_input_from_message_start_when_delta_has_nulls():
    meter = MessagesStreamMeter()
    start = {"type": "message_start", "message": {"usage": {
        "input_tokens": 5, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 3, "output_tokens": 1}}}
    delta = {"type": "message_delta", "usage": {"input_tokens": None, "cache_read_input_tokens": None,
                                                 "output_tokens": 9}}
    data = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode())
                    for e in (start, delta))
    meter.feed(data)
    assert meter.usage == Usage(input_tokens=25, output_tokens=9, cached_input_tokens=20,
                                cache_creation_tokens=3, total_tokens=37)


def test_error_types_per_status():
    assert [anthropic_error_type(s) for s in (400, 401, 403, 404, 413, 429, 500, 502, 503, 529, 418)] == [
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
        "request_too_large", "rate_limit_error", "api_error", "api_error", "overloaded_error",
        "overloaded_error", "invalid_request_error"]
