"""The chat meter's byte check (``ChatStreamMeter.quiet``): a chunk it lets skip the line scan must be
one the scan would have found nothing in, so the fast path meters and relays exactly like the scan."""

from __future__ import annotations

import orjson
import pytest

from plugins.openai.chat_api import ChatStreamMeter, UsageChunkFilter
from proxy.apis import STREAM_COMPLETE, STREAM_MALFORMED, STREAM_OVERSIZE, STREAM_PROVIDER_ERROR
from proxy.exchange import ExchangeStream
from proxy.sse import WholeEvents

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
USAGE = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20,
         "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 3}}


def event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def chunk_event(delta: dict[str, object], finish: str | None = None) -> bytes:
    return event({**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": None})


def stream_bytes(pieces: int = 5) -> list[bytes]:
    events = [chunk_event({"role": "assistant", "content": ""})]
    events += [chunk_event({"content": f"tok {i} \"usage\" data: {{x}}"}) for i in range(pieces)]
    events.append(chunk_event({}, "stop"))
    events.append(event({**BASE, "choices": [], "usage": USAGE}))
    events.append(b"data: [DONE]\n\n")
    return events


class ScanOnly(ChatStreamMeter):
    """The line scan for every chunk, as before the byte checks."""

    has_quiet = False


def relay(chunks: list[bytes], *, fast: bool, client_usage: bool = False) -> tuple[bytes, object, str]:
    meter = ChatStreamMeter() if fast else ScanOnly()
    stream = ExchangeStream(meter, WholeEvents() if client_usage else UsageChunkFilter())
    assert (stream._quiet is not None) is fast
    out = b"".join(stream.feed(c) for c in chunks)
    end = stream.meter.end if stream.meter.end in (STREAM_MALFORMED, STREAM_OVERSIZE) else stream.close()
    if end in (STREAM_COMPLETE, STREAM_PROVIDER_ERROR):
        out += stream.finish()
    return out, stream.usage, end


def splits(data: bytes) -> list[list[bytes]]:
    return [[data], [data[i:i + 7] for i in range(0, len(data), 7)], [data[i:i + 61] for i in range(0, len(data), 61)],
            [data[:len(data) // 2], data[len(data) // 2:]]]


@pytest.mark.parametrize("client_usage", [False, True])
def test_fast_path_relays_and_meters_like_the_line_scan(client_usage: bool) -> None:
    events = stream_bytes()
    cases = [events, *splits(b"".join(events)), [b"".join(events[:3]), *events[3:]]]
    for chunks in cases:
        fast, slow = relay(chunks, fast=True, client_usage=client_usage), relay(chunks, fast=False,
                                                                                   client_usage=client_usage)
        assert fast == slow
        out, usage, end = fast
        assert end == STREAM_COMPLETE
        assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens) \
            == (12, 8, 2, 3)
        assert (b'"usage":{' in out) is client_usage     # the usage chunk is hidden unless the client asked


def test_faults_are_caught_on_the_fast_path() -> None:
    good = chunk_event({"content": "a"})
    cases = {
        STREAM_MALFORMED: [good, b'data: {"id":"x","choices":[{"delta":{"content":"trunc\n\n', good],
        STREAM_PROVIDER_ERROR: [good, event({"error": {"message": "overloaded", "type": "server_error"}})],
    }
    for expected, chunks in cases.items():
        assert relay(chunks, fast=True)[2] == relay(chunks, fast=False)[2] == expected


def test_quiet_only_for_whole_events_with_nothing_to_find() -> None:
    meter = ChatStreamMeter()
    two = chunk_event({"content": "a"}) + chunk_event({"content": "b"})
    assert meter.quiet(chunk_event({"content": "a"}))
    assert meter.quiet(two)
    not_quiet = [
        event({**BASE, "choices": [], "usage": USAGE}),                  # carries usage
        b"data: [DONE]\n\n",                                              # the terminator
        event({"error": {"message": "x"}}),                               # the provider's error event
        b'data: { "error": {"message": "x"}}\n\n',                        # ... spaced
        two + event({"error": {"message": "x"}}),                         # ... after other events
        two[:-1],                                                         # ends mid-event
        two[5:],                                                          # starts mid-event
        b'data: {"a":1}\ndata: {"b":2}\n\n',                              # one event of two data lines
        b'data: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\n\n',            # a comment line among them
        b'data:{"a":1}\n\n',                                              # other spacing: the scan decides
        b'data: {"a":1}\r\n\r\n',                                         # CRLF framing
        b'data: {"a":"trunc\n\ndata: {"b":2}\n\n',                        # a line that is not {..}
    ]
    for chunk in not_quiet:
        assert not meter.quiet(chunk), chunk
    meter.max_event_bytes = len(two) - 1
    assert not meter.quiet(two)                                           # oversize: the scan decides
    meter.max_event_bytes = 1 << 20
    meter.feed(b'data: {"a"')                                             # something held back
    assert not meter.quiet(two)


def test_quiet_lines_for_events_split_between_lines() -> None:
    meter = ChatStreamMeter()
    one, two = chunk_event({"content": "a"}), chunk_event({"content": "b"})
    assert meter.quiet_lines(one + two[:-1])                                  # ends before a blank line
    assert meter.quiet_lines(b"\n" + two)                                     # starts with the one before
    assert meter.quiet_lines(b"\n" + one + two[:-1])
    assert not meter.quiet_lines(b"\n" + one + b"\n" + two)                   # an extra blank line
    assert not meter.quiet_lines(one + b'data: "x"}\n\n')                    # a line that is not {..}
    assert not meter.quiet_lines(one + event({**BASE, "choices": [], "usage": USAGE}))
    assert not meter.quiet_lines(one + b"data: [DONE]\n")
    assert not meter.quiet_lines(one + event({"error": {"message": "x"}})[:-1])
