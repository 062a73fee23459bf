"""Calling a provider and relaying its answer: one attempt, streamed without buffering.

Timeouts that fit streams: connect and first byte bound the wait for
headers; afterwards an idle watchdog cuts a stream that stalls, and a total
backstop bounds everything, so a healthy ten-minute stream is never cut.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from proxy import stream_end
from proxy.apis import STREAM_COMPLETE, STREAM_FAULTS, STREAM_PROVIDER_ERROR
from proxy.context import AGENT_KIND, AGENT_SESSION_ID, CODING_AGENT, TRACE_ID, Route, UsageRecord
from proxy.errors import (
    GatewayError,
    InternalError,
    UpstreamProtocolError,
    UpstreamRedirect,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.exchange import ExchangeStream, TranslateOptions
from proxy.hygiene import add_headers, check_upstream_url, scrub_client_credentials, strip_hop_by_hop
from proxy.providers import UpstreamRequest
from proxy.stash import StashKey
from proxy.taps import RESPONSE_CAPTURE as RESPONSE_CAPTURE  # its old home: plugins import it from here
from proxy.taps import response_tap, tee
from proxy.usage import Usage
from proxy.watchdog import Watchdog

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.upstream")

_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",     # tell nginx-style fronts not to buffer either
}


@dataclass(slots=True)
class Attempt:
    """What one provider call produced, filled in as it goes; becomes a ledger row."""

    number: int
    route: Route
    t0: float = field(default_factory=time.perf_counter)
    status: int = 0
    ttft: float | None = None
    usage: Usage = field(default_factory=Usage)
    error: str = ""
    disconnected: bool = False
    outcome: str = ""


def make_record(ctx: RequestContext, route: Route, att: Attempt) -> UsageRecord:
    p = ctx.principal
    stash = ctx.stash
    now = time.perf_counter()
    return UsageRecord(
        request_id=ctx.request_id, attempt=att.number, started_wall=ctx.started_wall,
        endpoint=ctx.endpoint_name, served_model=route.served.name, provider=route.provider.name,
        provider_model=route.upstream_model, surface=ctx.surface, status=att.status or 502, stream=ctx.stream,
        usage=att.usage.finish(), latency_s=now - ctx.started, ttft_s=att.ttft, upstream_s=now - att.t0,
        error=att.error, disconnected=att.disconnected,
        key_id=p.key_id if p else "", owner=p.owner if p else "", team=p.team if p else "",
        agent=stash.get(AGENT_KIND, ""), session_id=stash.get(AGENT_SESSION_ID, ""), trace_id=stash.get(TRACE_ID, ""),
        outcome=att.outcome or ("error" if att.error else "complete"), labels=ctx.labels)


def response_headers(ctx: RequestContext, route: Route) -> dict[str, str]:
    headers = {"x-request-id": ctx.request_id, "x-relaygate-served-model": route.served.name}
    headers.update(ctx.response_headers)
    return headers


@lru_cache(maxsize=64)
def _client_timeout(connect: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=None)    # immutable: shared


async def _open(gateway: Gateway, route: Route, ureq: UpstreamRequest, watchdog: Watchdog) -> aiohttp.ClientResponse:
    """Send the request; wait for response headers within connect + first-byte timeouts."""
    assert gateway.session is not None
    timeouts = route.endpoint.timeouts
    name = route.provider.name
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    try:
        # Never follow a redirect: it would carry our credentials to a host nobody configured.
        response = await gateway.session.request(
            ureq.method, ureq.url, headers=ureq.headers, data=ureq.body, allow_redirects=False,
            timeout=_client_timeout(timeouts.connect_seconds))
    except asyncio.CancelledError:
        # The watchdog's first-byte cancel (and nobody else's, as asyncio.timeout decides) is a timeout.
        if watchdog.fired == "first_byte" and task.uncancel() <= cancelling:
            waited = min(timeouts.first_byte_seconds, timeouts.total_seconds)
            raise UpstreamTimeout(f"provider {name!r} sent no response headers within {waited:g}s") from None
        raise
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(f"cannot connect to provider {name!r}: "
                                  f"{exc.os_error.strerror or type(exc.os_error).__name__}") from None
    except aiohttp.ClientError as exc:
        raise UpstreamUnavailable(f"provider {name!r} failed before answering: {type(exc).__name__}") from None
    watchdog.opened()
    return response


#: told of every attempt before its provider call (the ledger's crash journal)
ATTEMPT_STARTED: StashKey[Callable[[RequestContext, Route, Attempt], None]] = StashKey("attempt_started")
#: the parameters the route's exchange dropped (also sent as ``x-relaygate-dropped``)
DROPPED_PARAMS: StashKey[list[str]] = StashKey("dropped_params")
DROPPED_HEADER = "x-relaygate-dropped"
#: a zero-argument callable that returns the client-format response of a translated answer
#: (for plugins such as the Responses store); a stream's is known only once it ended
TRANSLATED_RESPONSE: StashKey[Callable[[], dict[str, Any] | None]] = StashKey("translated_response")


def upstream_body(ctx: RequestContext, route: Route) -> dict[str, Any]:
    """The route's exchange applied to the client's body, with the endpoint's policy."""
    assert ctx.body is not None
    opts = TranslateOptions(stream=ctx.stream, policy=route.endpoint.unsupported_params, target=route.provider.kind,
                            coding_agent=ctx.stash.get(CODING_AGENT, False),
                            api_version=route.provider.config.api_version or "")
    body = route.exchange.request(ctx.body, model=route.upstream_model, options=opts)
    if ctx.gateway.hooks.prepares_body(ctx):          # e.g. prompt-cache breakpoints (plugins/prompt_cache)
        body = ctx.gateway.hooks.prepare_upstream_body(ctx, route, body)
    if opts.dropped:
        ctx.response_headers[DROPPED_HEADER] = ",".join(opts.dropped)
        ctx.stash[DROPPED_PARAMS] = list(opts.dropped)
    return body


async def forward(gateway: Gateway, ctx: RequestContext, route: Route, attempt: int = 1) -> web.StreamResponse:
    """Send one attempt to *route*'s provider and answer the client. Records usage exactly once."""
    exchange = route.exchange
    if exchange.local:                           # e.g. a token-count estimate; no provider call
        return web.Response(body=orjson.dumps(exchange.answer(ctx.body or {})), content_type="application/json",
                            headers={**response_headers(ctx, route), **exchange.answer_headers})
    body = upstream_body(ctx, route)
    ureq = await route.provider.prepare(route.provider_api, route.upstream_model, body, ctx.stream,
                                        ctx.request.headers, ctx.path_params)
    ureq.headers = strip_hop_by_hop(ureq.headers)
    scrub_client_credentials(ureq, ctx.request)
    check_upstream_url(route.provider, ureq.url)
    att = Attempt(attempt, route)
    ctx.attempts.append(att)
    if gateway.hooks.has_attempt_listeners:       # e.g. tracing: this attempt's span and its traceparent
        add_headers(ureq.headers, gateway.hooks.attempt_started(ctx, route, att))
    if (started := gateway.stash.get(ATTEMPT_STARTED)) is not None:
        started(ctx, route, att)              # the crash journal
    upstream: aiohttp.ClientResponse | None = None

    def stalled(_why: str) -> None:               # only once the headers arrived: before, the wait is cancelled
        if upstream is not None:
            upstream.close()
    t = route.endpoint.timeouts
    watchdog = Watchdog(t.first_byte_seconds, t.idle_seconds, t.total_seconds, stalled)
    try:
        upstream = await _open(gateway, route, ureq, watchdog)
        att.status = upstream.status
        try:
            if upstream.status >= 400:
                data = await _read_limited(upstream, 1 << 20, route.provider.name)
                raise UpstreamStatusError(upstream.status, data, upstream.content_type, dict(upstream.headers))
            if upstream.status >= 300:
                raise UpstreamRedirect(f"provider {route.provider.name!r} answered HTTP {upstream.status} (a "
                                       f"redirect), which the gateway never follows: check its base_url")
            if ctx.stream and (upstream.content_type != "application/json" or ureq.json_stream):
                # What the client reads: a JSON array (Gemini without alt=sse) or SSE.
                json_array = ctx.api.json_array_stream(ctx.path_params)
                stream = exchange.stream(model=ctx.endpoint_name, request=ctx.body or {}, json_array=json_array)
                if not exchange.passthrough:
                    ctx.stash[TRANSLATED_RESPONSE] = lambda: stream.final
                return await _relay_stream(gateway, ctx, route, upstream, watchdog, att, stream,
                                           json_stream=json_array)
            return await _relay_body(gateway, ctx, route, upstream, att)
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError):
            if watchdog.fired:
                raise UpstreamTimeout(f"provider {route.provider.name!r} stalled "
                                      f"({watchdog.fired} timeout)") from None
            raise UpstreamProtocolError(f"provider {route.provider.name!r} broke the response") from None
        finally:
            upstream.close()
    except GatewayError as exc:
        att.error = getattr(exc, "reason", exc.type)
        att.status = att.status if att.status >= 400 else exc.status
        raise
    except Exception:
        att.error, att.status = att.error or InternalError.reason, att.status if att.status >= 400 else 500
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        att.disconnected = True
        att.error = att.error or "client_disconnected"
        att.outcome = att.outcome or stream_end.cancelled_outcome(gateway)
        raise
    finally:
        watchdog.cancel()
        await gateway.hooks.record_usage(ctx, make_record(ctx, route, att))


async def _read_limited(upstream: aiohttp.ClientResponse, limit: int, name: str) -> bytes:
    """The whole body, or UpstreamProtocolError once it exceeds *limit* bytes (never buffer unbounded)."""
    length = upstream.content_length
    if length is None or length <= limit:
        if length is not None and "Content-Encoding" not in upstream.headers:
            # The parser delivers exactly Content-Length bytes (unless decompressing): one read.
            try:
                return await upstream.content.readexactly(length)
            except asyncio.IncompleteReadError:
                raise aiohttp.ClientPayloadError("response payload is not completed") from None
        parts: list[bytes] = []
        size = 0
        async for chunk in upstream.content.iter_any():
            size += len(chunk)
            if size > limit:
                break
            parts.append(chunk)
        else:
            return b"".join(parts)
    raise UpstreamProtocolError(f"provider {name!r} sent a response larger than the gateway's limit "
                                f"of {limit} bytes (server.max_response_bytes)")


async def _relay_body(gateway: Gateway, ctx: RequestContext, route: Route,
                      upstream: aiohttp.ClientResponse, att: Attempt) -> web.Response:
    data = await _read_limited(upstream, gateway.settings.server.max_response_bytes, route.provider.name)
    att.ttft = time.perf_counter() - ctx.started
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(f"provider {route.provider.name!r} sent a malformed JSON body") from None
    exchange = route.exchange
    att.usage = exchange.usage(parsed)
    client_body = exchange.response(parsed, model=ctx.endpoint_name, request=ctx.body or {})
    if client_body is not None:
        ctx.stash[TRANSLATED_RESPONSE] = lambda: client_body
        data = orjson.dumps(client_body)
    if gateway.hooks.transforms_response(ctx):     # guardrails on output: mask, or refuse (raises)
        changed = await gateway.hooks.transform_response(ctx, parsed if client_body is None else client_body)
        if changed is not None:
            data = orjson.dumps(changed)
    if (tap := response_tap(ctx)) is not None:
        tap(data)
    return web.Response(body=data, status=upstream.status, content_type="application/json",
                        headers=response_headers(ctx, route))


async def _relay_stream(gateway: Gateway, ctx: RequestContext, route: Route, upstream: aiohttp.ClientResponse,
                        watchdog: Watchdog, att: Attempt, stream: ExchangeStream,
                        json_stream: bool = False) -> web.StreamResponse:
    """Pass the provider's stream through chunk by chunk, metering usage on the way.

    The stream ends with the provider's terminator (or the client format's, written
    because the provider's stream completed), or else with ONE terminal error
    event in the client's format (*json_stream*: a JSON array, Gemini's default
    stream, gets a last element): after the first byte a failure cannot become an
    HTTP status any more. ``att.outcome`` says which (see :mod:`proxy.stream_end`).
    """
    headers = {**_SSE_HEADERS, **response_headers(ctx, route)}
    if json_stream:
        headers["Content-Type"] = "application/json; charset=utf-8"
    out = web.StreamResponse(status=200, headers=headers)
    counts = gateway.in_flight_streams
    counts[ctx.surface] = counts.get(ctx.surface, 0) + 1
    cuts = stream_end.open_streams(gateway)
    cuts.add(watchdog.cut)
    meter = stream.meter
    meter.max_event_bytes = limit = gateway.settings.server.max_stream_event_bytes
    relayed = 0
    started = finished = False
    write: Callable[[bytes], Awaitable[None]] = out.write
    end_of_stream: Callable[[], Awaitable[None]] = out.write_eof
    opened = False
    try:
        ctx.committed = True                 # from here on, no retry and no fallback
        if (channel := ctx.channel) is None:
            await out.prepare(ctx.request)
        else:                                # a WebSocket message's stream (proxy/channels.py)
            await channel.start(headers)
            write, end_of_stream = channel.write, channel.end
        opened = True
        feed, clock = stream.feed, watchdog.clock
        if (tap := response_tap(ctx)) is not None:
            write = tee(write, tap)
        try:
            async for chunk in upstream.content.iter_any():
                watchdog.last = clock()          # Watchdog.kick(), inlined: this runs per chunk
                if not relayed:
                    att.ttft = time.perf_counter() - ctx.started
                relayed += len(chunk)
                chunk = feed(chunk)              # metered, checked, and rewritten for the client if needed
                if chunk:
                    await write(chunk)
                    # Time blocked on a slow reader is not provider silence: it must not trip the idle
                    # timeout and count against the provider's circuit.
                    watchdog.last = clock()
                    started = True
                if meter.end and meter.end in STREAM_FAULTS:    # malformed or oversize: nothing more
                    break
            end = meter.end if meter.end in STREAM_FAULTS else stream.close()
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
            if isinstance(exc, aiohttp.ClientConnectionResetError) and not watchdog.fired:
                raise ConnectionResetError from exc     # writing to the client failed
            end = meter.end                  # broken after its terminator: still complete
        if end in (STREAM_COMPLETE, STREAM_PROVIDER_ERROR):
            finished = True
            if tail := stream.finish():
                await write(tail)
            if end == STREAM_PROVIDER_ERROR:     # the provider's own error event was relayed
                att.error, att.status, att.outcome = "upstream_stream_error", 502, stream_end.ERROR
        else:
            err, att.outcome = stream_end.failure(route.provider.name, end, watchdog.fired, limit)
            att.error, att.status = err.reason, err.status   # type: ignore[attr-defined]
            await write(stream_end.error_event(ctx, err, json_stream, started))
        await end_of_stream()
        return out
    except (ConnectionResetError, asyncio.CancelledError):
        # The client left mid-stream. By default the provider call is closed at once (it stops
        # generating); timeouts.disconnect_drain_seconds reads on (within a cap) for its usage.
        if route.endpoint.timeouts.disconnect_drain_seconds:
            await stream_end.drain_for_usage(upstream, stream, route.endpoint.timeouts.disconnect_drain_seconds)
        raise
    except Exception:
        # A bug while rewriting the stream: the client still gets ONE terminal error event, in its format.
        log.exception("internal error relaying a stream (%s)", ctx.request_id)
        err = InternalError(ctx.request_id)
        att.error, att.status, att.outcome = err.reason, err.status, stream_end.ERROR
        if not opened or finished:
            raise
        await write(stream_end.error_event(ctx, err, json_stream, started))
        await end_of_stream()
        return out
    finally:
        cuts.discard(watchdog.cut)
        counts[ctx.surface] -= 1
        att.usage = u = stream.usage
        if not u.input_tokens:       # no usage event arrived: bill the prompt by estimate, never 0
            u.input_tokens = ctx.api.estimate_input_tokens(ctx.body or {}, ctx.raw_body)
        if not finished and relayed:
            # Cut short (client gone, provider broke): the final usage never came. Bill what was
            # streamed: an SSE chunk carries about one token in ~150-200 bytes of framing.
            u.output_tokens = max(u.output_tokens, relayed // STREAM_BYTES_PER_TOKEN)
            u.total_tokens = 0


STREAM_BYTES_PER_TOKEN = 160   # bytes of provider stream per output token, to estimate a usage that never came
