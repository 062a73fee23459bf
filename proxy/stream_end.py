"""How a relayed stream ended: the ledger's ``outcome``, the client's terminal error, shutdown cuts.

Every stream the client receives ends in exactly one of: the provider's own
terminator (relayed, or the client format's terminator written because the
provider's stream really completed), or ONE terminal error event in the
client's format. Never a success terminator for a stream that did not
complete, never half an event (the exchange stream hands on whole events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
import orjson

from proxy.apis import STREAM_MALFORMED, STREAM_OVERSIZE
from proxy.errors import GatewayError, UpstreamProtocolError, UpstreamTimeout
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.exchange import ExchangeStream
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

# Ledger outcomes (``Attempt.outcome``).
COMPLETE = "complete"
ERROR = "error"                          # an error status, or the provider's own error event mid-stream
UPSTREAM_TRUNCATED = "upstream_truncated"   # the provider's stream ended without its terminator
MALFORMED = "malformed"                  # an event that is not what the format requires, or oversize
STALLED = "stalled"                      # idle or total timeout
CLIENT_CANCELLED = "client_cancelled"
SHUTDOWN = "shutdown"                    # cut at the end of a graceful shutdown's drain
INCOMPLETE = "incomplete"                # in flight when the process died (the crash journal)

#: what a Watchdog's ``fired`` says when shutdown cut the stream (idle / total: timeouts)
CUT_SHUTDOWN = "shutdown"


class ShuttingDown(GatewayError):
    status = 503
    type = "shutting_down"
    reason = "shutdown"


def failure(provider: str, end: str, fired: str, max_event_bytes: int) -> tuple[GatewayError, str]:
    """The error the client is told and the ledger outcome of a stream that did not complete."""
    if fired == CUT_SHUTDOWN:
        return ShuttingDown("the gateway is shutting down; the stream was cut (retry the request)"), SHUTDOWN
    if fired:
        return UpstreamTimeout(f"provider {provider!r} stalled mid-stream ({fired} timeout)"), STALLED
    if end == STREAM_MALFORMED:
        return UpstreamProtocolError(f"provider {provider!r} sent a malformed stream event"), MALFORMED
    if end == STREAM_OVERSIZE:
        return UpstreamProtocolError(f"provider {provider!r} sent a stream event larger than the gateway's "
                                     f"limit of {max_event_bytes} bytes (server.max_stream_event_bytes)"), MALFORMED
    return UpstreamProtocolError(f"provider {provider!r} broke the stream: it ended without its final "
                                 "event"), UPSTREAM_TRUNCATED


def error_event(ctx: RequestContext, err: GatewayError, json_array: bool, started: bool) -> bytes:
    """The one terminal error in the client's stream format (*started*: bytes were sent already)."""
    if json_array:       # the last element of the array; opens it if nothing was sent
        return (b"," if started else b"[") + orjson.dumps(ctx.api.error_body(err, ctx.request_id)) + b"]"
    return ctx.api.stream_error_event(err, ctx.request_id)


#: the cut functions of the streams being relayed (shutdown cuts those left at the drain deadline)
OPEN_STREAMS: StashKey[set[Callable[[str], None]]] = StashKey("open_streams")
#: set once shutdown cuts what is left: a request cancelled from then on ended by shutdown
CUTTING: StashKey[bool] = StashKey("shutdown_cutting")


def open_streams(gateway: Gateway) -> set[Callable[[str], None]]:
    found = gateway.stash.get(OPEN_STREAMS)
    if found is None:
        found = gateway.stash[OPEN_STREAMS] = set()
    return found


def cut_open_streams(gateway: Gateway) -> int:
    """End every stream still relayed with the terminal error event (outcome ``shutdown``)."""
    gateway.stash[CUTTING] = True
    cuts = list(open_streams(gateway))
    for cut in cuts:
        cut(CUT_SHUTDOWN)
    return len(cuts)


def cancelled_outcome(gateway: Gateway) -> str:
    return SHUTDOWN if gateway.stash.get(CUTTING) else CLIENT_CANCELLED


DRAIN_BYTES = 8 << 20          # how much of an abandoned stream is still read for its usage


async def drain_for_usage(upstream: aiohttp.ClientResponse, stream: ExchangeStream, seconds: float) -> None:
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in upstream.content.iter_any():
                stream.observe(chunk)
                size += len(chunk)
                if size > DRAIN_BYTES:
                    break
    except (aiohttp.ClientError, TimeoutError, asyncio.CancelledError):
        pass                                          # usage stays what was seen so far
