"""Calling a provider and relaying its answer: one attempt, streamed without buffering.

Timeouts that fit streams: connect and first byte bound the wait for
headers; afterwards an idle watchdog cuts a stream that stalls, and a total
backstop bounds everything, so a healthy ten-minute stream is never cut.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import orjson
from aiohttp import web

from proxy.apis import StreamFilter
from proxy.context import Route, Usage, UsageRecord
from proxy.providers import UpstreamRequest
from proxy.errors import (
    GatewayError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",     # tell nginx-style fronts not to buffer either
}


class Watchdog:
    """Fires *on_stall* when no chunk arrived for *idle* seconds or *total* ran out.

    One timer per attempt, re-armed lazily: a chunk only stores the time.
    """

    __slots__ = ("_loop", "_idle", "_deadline", "last", "_handle", "_on_stall", "fired")

    def __init__(self, idle: float, total: float, on_stall: Callable[[str], None]) -> None:
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self._idle = idle
        self._deadline = now + total
        self.last = now
        self._on_stall = on_stall
        self.fired = ""
        self._handle = self._loop.call_at(min(now + idle, self._deadline), self._check)

    def kick(self) -> None:
        self.last = self._loop.time()

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._deadline:
            self.fired = "total"
        elif now - self.last >= self._idle:
            self.fired = "idle"
        else:
            self._handle = self._loop.call_at(min(self.last + self._idle, self._deadline), self._check)
            return
        self._on_stall(self.fired)

    def cancel(self) -> None:
        self._handle.cancel()


@dataclass(slots=True)
class Attempt:
    """What one provider call produced, filled in as it goes; becomes a ledger row."""

    number: int
    t0: float = field(default_factory=time.perf_counter)
    status: int = 0
    ttft: float | None = None
    usage: Usage = field(default_factory=Usage)
    error: str = ""
    disconnected: bool = False


def make_record(ctx: RequestContext, route: Route, att: Attempt) -> UsageRecord:
    p = ctx.principal
    now = time.perf_counter()
    return UsageRecord(
        request_id=ctx.request_id, attempt=att.number, started_wall=ctx.started_wall,
        endpoint=ctx.endpoint_name, served_model=route.served.name, provider=route.provider.name,
        provider_model=route.upstream_model, surface=ctx.surface, status=att.status or 502, stream=ctx.stream,
        usage=att.usage.finish(), latency_s=now - ctx.started, ttft_s=att.ttft, upstream_s=now - att.t0,
        error=att.error, disconnected=att.disconnected,
        key_id=p.key_id if p else "", owner=p.owner if p else "", team=p.team if p else "",
        extra=ctx.extra)


def response_headers(ctx: RequestContext, route: Route) -> dict[str, str]:
    headers = {"x-request-id": ctx.request_id, "x-relaygate-served-model": route.served.name}
    headers.update(ctx.response_headers)
    return headers


async def _open(gateway: Gateway, route: Route, ureq: UpstreamRequest) -> aiohttp.ClientResponse:
    """Send the request; wait for response headers within connect + first-byte timeouts."""
    assert gateway.session is not None
    timeouts = route.endpoint.timeouts
    name = route.provider.name
    try:
        async with asyncio.timeout(timeouts.first_byte_seconds):
            return await gateway.session.request(
                ureq.method, ureq.url, headers=ureq.headers, data=ureq.body,
                timeout=aiohttp.ClientTimeout(total=None, connect=timeouts.connect_seconds, sock_read=None))
    except TimeoutError:
        raise UpstreamTimeout(f"provider {name!r} sent no response headers within "
                              f"{timeouts.first_byte_seconds:g}s") from None
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(f"cannot connect to provider {name!r}: "
                                  f"{exc.os_error.strerror or type(exc.os_error).__name__}") from None
    except aiohttp.ClientError as exc:
        raise UpstreamUnavailable(f"provider {name!r} failed before answering: {type(exc).__name__}") from None


async def forward(gateway: Gateway, ctx: RequestContext, route: Route, attempt: int = 1) -> web.StreamResponse:
    """Send one attempt to *route*'s provider and answer the client. Records usage exactly once."""
    assert ctx.body is not None
    body = ctx.body
    stream_filter = None
    if route.translator is not None:
        body = route.translator.translate_request(body, model=route.upstream_model)
    else:
        body, stream_filter = ctx.api.upstream_body(body, ctx.stream)
    ureq = await route.provider.prepare(route.provider_api, route.upstream_model, body, ctx.stream,
                                        ctx.request.headers, ctx.path_params)
    att = Attempt(attempt)
    try:
        upstream = await _open(gateway, route, ureq)
        att.status = upstream.status
        t = route.endpoint.timeouts
        watchdog = Watchdog(t.idle_seconds, t.total_seconds, lambda _why: upstream.close())
        try:
            if upstream.status >= 400:
                data = await upstream.read()
                raise UpstreamStatusError(upstream.status, data, upstream.content_type, dict(upstream.headers))
            if ctx.stream and upstream.content_type != "application/json":
                return await _relay_stream(gateway, ctx, route, upstream, watchdog, att, stream_filter)
            return await _relay_body(gateway, ctx, route, upstream, att)
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError):
            if watchdog.fired:
                raise UpstreamTimeout(f"provider {route.provider.name!r} stalled "
                                      f"({watchdog.fired} timeout)") from None
            raise UpstreamProtocolError(f"provider {route.provider.name!r} broke the response") from None
        finally:
            watchdog.cancel()
            upstream.close()
    except GatewayError as exc:
        att.error = getattr(exc, "reason", exc.type)
        att.status = att.status if att.status >= 400 else exc.status
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        att.disconnected = True
        att.error = att.error or "client_disconnected"
        raise
    finally:
        await gateway.hooks.record_usage(ctx, make_record(ctx, route, att))


async def _relay_body(gateway: Gateway, ctx: RequestContext, route: Route,
                      upstream: aiohttp.ClientResponse, att: Attempt) -> web.Response:
    data = await upstream.read()
    att.ttft = time.perf_counter() - ctx.started
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(f"provider {route.provider.name!r} sent a malformed JSON body") from None
    att.usage = gateway.apis.get(route.provider_api).usage_from_body(parsed)
    if route.translator is not None:
        data = orjson.dumps(route.translator.translate_response(parsed, model=ctx.endpoint_name))
    return web.Response(body=data, status=upstream.status, content_type="application/json",
                        headers=response_headers(ctx, route))


async def _relay_stream(gateway: Gateway, ctx: RequestContext, route: Route, upstream: aiohttp.ClientResponse,
                        watchdog: Watchdog, att: Attempt, stream_filter: StreamFilter | None) -> web.StreamResponse:
    """Pass the provider's stream through chunk by chunk, metering usage on the way.

    A provider failure after the first byte cannot become an HTTP status any
    more: the client gets a final error event in its own format instead.
    """
    meter = gateway.apis.get(route.provider_api).meter_class()
    translator = route.translator.StreamTranslator(model=ctx.endpoint_name) if route.translator else None
    out = web.StreamResponse(status=200, headers={**_SSE_HEADERS, **response_headers(ctx, route)})
    counts = gateway.in_flight_streams
    counts[ctx.surface] = counts.get(ctx.surface, 0) + 1
    try:
        await out.prepare(ctx.request)
        write, kick, feed = out.write, watchdog.kick, meter.feed
        try:
            async for chunk in upstream.content.iter_any():
                if att.ttft is None:
                    att.ttft = time.perf_counter() - ctx.started
                kick()
                feed(chunk)
                if stream_filter is not None:
                    chunk = stream_filter(chunk)
                    if not chunk:
                        continue
                elif translator is not None:
                    chunk = translator.feed(chunk)
                    if not chunk:
                        continue
                await write(chunk)
            if translator is not None and (tail := translator.finish()):
                await write(tail)
            elif stream_filter is not None and (tail := stream_filter.flush()):
                await write(tail)
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            if isinstance(exc, aiohttp.ClientConnectionResetError) and not watchdog.fired:
                raise ConnectionResetError from exc     # writing to the client failed
            err: GatewayError
            if watchdog.fired:
                err = UpstreamTimeout(f"provider {route.provider.name!r} stalled mid-stream "
                                      f"({watchdog.fired} timeout)")
            else:
                err = UpstreamProtocolError(f"provider {route.provider.name!r} broke the stream")
            att.error, att.status = err.reason, err.status
            await write(ctx.api.stream_error_event(err, ctx.request_id))
        await out.write_eof()
        return out
    finally:
        counts[ctx.surface] -= 1
        att.usage = translator.usage if translator is not None else meter.usage
