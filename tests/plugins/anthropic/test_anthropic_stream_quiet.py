"""The Messages meter's byte check (``MessagesStreamMeter.quiet``): a chunk it lets skip the line scan
must be one the scan would have found nothing in, so the fast path meters and relays like the scan."""

from __future__ import annotations

import orjson

from plugins.anthropic.api import MessagesStreamMeter
from proxy.apis import STREAM_COMPLETE, STREAM_MALFORMED, STREAM_OVERSIZE, STREAM_PROVIDER_ERROR
from proxy.exchange import ExchangeStream


def event(name: str, obj: dict[str, object]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **obj}) + b"\n\n"


def stream_events() -> list[bytes]:
    usage = {"input_tokens": 10, "cache_read_input_tokens": 4, "output_tokens": 1}
    events = [event("message_start", {"message": {"id": "msg_1", "usage": usage}}),
              event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
              b'event: ping\ndata: {"type": "ping"}\n\n']
    events += [event("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                                    "text": f'tok {i} "usage" "error"'}})
               for i in range(4)]
    events += [event("content_block_stop", {"index": 0}),
               event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}),
               event("message_stop", {})]
    return events


def relay(chunks: list[bytes], *, fast: bool) -> tuple[bytes, tuple[int, int, int], str]:
    stream = ExchangeStream(MessagesStreamMeter())
    if not fast:
        stream._quiet = None
    out = b"".join(stream.feed(c) for c in chunks)
    end = stream.meter.end if stream.meter.end in (STREAM_MALFORMED, STREAM_OVERSIZE) else stream.close()
    if end in (STREAM_COMPLETE, STREAM_PROVIDER_ERROR):
        out += stream.finish()
    u = stream.usage
    return out, (u.input_tokens, u.output_tokens, u.cached_input_tokens), end


def test_fast_path_relays_and_meters_like_the_line_scan() -> None:
    events = stream_events()
    data = b"".join(events)
    for chunks in (events, [data], [data[i:i + 7] for i in range(0, len(data), 7)],
                   [data[i:i + 61] for i in range(0, len(data), 61)]):
        fast = relay(chunks, fast=True)
        assert fast == relay(chunks, fast=False)
        assert fast[0] == data and fast[1:] == ((14, 9, 4), STREAM_COMPLETE)


def test_faults_are_caught_on_the_fast_path() -> None:
    delta = event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "a"}})
    malformed = [delta, b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"te\n\n', delta]
    error = [delta, event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})]
    assert relay(malformed, fast=True)[2] == relay(malformed, fast=False)[2] == STREAM_MALFORMED
    assert relay(error, fast=True)[2] == relay(error, fast=False)[2] == STREAM_PROVIDER_ERROR


def test_quiet_only_for_one_whole_event_with_nothing_to_find() -> None:
    meter = MessagesStreamMeter()
    delta = event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "a"}})
    assert meter.quiet(delta)
    assert meter.quiet(b'event: ping\ndata: {"type": "ping"}\n\n')
    for chunk in [
        event("message_start", {"message": {"usage": {"input_tokens": 1}}}),     # carries usage
        event("message_delta", {"usage": {"output_tokens": 1}}),
        event("message_stop", {}),                                                # the terminator
        event("error", {"error": {"type": "overloaded_error"}}),                 # the provider's error
        delta + delta,                                                            # two events: the scan
        delta[:-1], delta[3:],                                                    # not whole
        b'event: x\ndata: {"a":1\ndata: 2}\n\n',                                  # data lines not {..}
        b'event: x\ndata: "a"}\n\n',
        b'data: {"type":"ping"}\nevent: x\n\n',                                   # data first
        b'event: x\r\ndata: {"a":1}\r\n\r\n',                                    # CRLF framing
    ]:
        assert not meter.quiet(chunk), chunk
    meter.max_event_bytes = len(delta) - 1
    assert not meter.quiet(delta)
