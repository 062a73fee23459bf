"""One request's whole way through the gateway.

    authenticate -> read body -> resolve endpoint -> validate -> select route
    -> admit (limits, budgets) -> a stored answer (response cache), else
    forward to the provider (stream) -> record usage
    -> request finished (metrics, access log)

Every stage but the provider call is a hook (see :mod:`proxy.hookspecs`).
Errors at any stage are rendered in the surface's own API error shape.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import (
    AuthenticationFailed,
    GatewayError,
    InternalError,
    PayloadTooLarge,
    PermissionDenied,
    RequestRejected,
    RequestTimeout,
    UpstreamStatusError,
)
from proxy import answers, resilience
from proxy.caps import check_caps
from proxy.scrub import scrub
from proxy.stash import StashKey
from proxy.upstream import forward

if TYPE_CHECKING:
    from proxy.channels import ReplyChannel
    from proxy.gateway import Gateway
    from proxy.surfaces import SurfaceRoute

log = logging.getLogger("relaygate.pipeline")


#: the model name the client sent, when an alias resolved it to another endpoint
REQUESTED_MODEL: StashKey[str] = StashKey("requested_model")


def new_request_id() -> str:
    # 96 random bits from the process's generator (seeded from the OS, reseeded in forked workers):
    # unique without a system call per request; an id names a request, it grants nothing.
    return f"req_{random.getrandbits(96):024x}"


async def handle(gateway: Gateway, sroute: SurfaceRoute, request: web.Request,
                 channel: ReplyChannel | None = None) -> web.StreamResponse:
    """Serve one request. With a *channel* (a WebSocket message) the body is the channel's and a
    stream is written to it; any other answer is returned unsent (see :mod:`proxy.channels`)."""
    runtime = gateway.runtime                      # this request keeps this config, even across a reload
    ctx = new_context(gateway, request, sroute.api, sroute.surface)
    ctx.channel = channel
    hooks = gateway.hooks
    counts = gateway.in_flight
    counts[ctx.surface] = counts.get(ctx.surface, 0) + 1
    try:
        await require_principal(gateway, ctx)
        assert ctx.principal is not None
        await _read_body(ctx, sroute)
        resolved = sroute.resolve(ctx, gateway)
        ctx.api = gateway.apis.get(resolved.api)
        ctx.endpoint_name = runtime.resolve_name(resolved.endpoint, ctx.surface)   # aliases
        ctx.stream = resolved.stream
        if ctx.endpoint_name != resolved.endpoint:
            ctx.stash[REQUESTED_MODEL] = resolved.endpoint
        # Scope before routing: a key learns nothing about an endpoint it may not call.
        if not ctx.principal.may_call(runtime.find_endpoint(ctx.endpoint_name, ctx.principal)[0].name):
            raise PermissionDenied(f"this key may not call endpoint {resolved.endpoint!r}", param="model")
        endpoint, candidates = gateway.candidates(runtime, ctx.endpoint_name, ctx.api.id)
        ctx.endpoint = endpoint
        if sroute.task and endpoint.task not in (sroute.task, "any"):
            raise RequestRejected(f"endpoint {resolved.endpoint!r} serves task {endpoint.task!r}, "
                                  f"not {sroute.task!r}", param="model")
        ctx.api.validate(ctx.body, strict=sroute.strict)    # type: ignore[arg-type]
        check_caps(endpoint, ctx.api, ctx.body)             # type: ignore[arg-type]
        ctx.api.check_shape(ctx.body)                       # type: ignore[arg-type]
        await hooks.validate_request(ctx)
        res = resilience.of(gateway)
        healthy = res.healthy(candidates)           # open circuits are out of rotation
        panic = not healthy
        if panic:                                   # every one is open: a bounded few still go (or 503)
            healthy = [res.panic_route(candidates)]
        route = hooks.select_route(ctx, healthy) or healthy[0]
        ctx.route = route
        await hooks.admit_request(ctx, route)
        if (lookup := hooks.answer_request(ctx, route)) is not None and (stored := await lookup) is not None:
            response = await answers.replay(gateway, ctx, route, stored)      # e.g. the response cache
            ctx.status = response.status
            return response
        # One attempt, or retries and fallbacks until one answers (never after the first byte).
        response = await resilience.call(gateway, ctx, route, candidates, forward, panic=panic)
        ctx.status = ctx.status or response.status
        return response
    except UpstreamStatusError as err:
        return _upstream_error(ctx, err)
    except GatewayError as err:
        return error_response(ctx, err)
    except ConnectionResetError:
        ctx.status = 499                           # nginx's "client closed request"
        raise
    except asyncio.CancelledError:
        ctx.status = 499
        raise
    except Exception:
        # A bug, never the client's fault: logged with its traceback, counted as 500 (access log,
        # metrics), answered in the client's own error shape rather than aiohttp's text page.
        log.exception("internal error on %s %s (%s)", ctx.request.method, ctx.request.path, ctx.request_id)
        if ctx.committed:                          # a stream already started: nothing more can be said
            ctx.status = 500
            raise
        return error_response(ctx, InternalError(ctx.request_id))
    finally:
        counts[ctx.surface] -= 1
        hooks.request_finished(ctx)


async def _read_body(ctx: RequestContext, sroute: SurfaceRoute) -> None:
    server = ctx.gateway.settings.server
    if ctx.channel is not None:                                # a message its channel has size-checked
        ctx.raw_body = ctx.channel.body
        _parse_body(ctx, sroute)
        return
    length = ctx.request.content_length
    if length is not None and length > server.max_body_bytes:
        raise _too_large(server.max_body_bytes)                # refused before reading a byte
    try:
        if ctx.request.content.is_eof():           # all of it arrived with the headers: no wait, no timer
            ctx.raw_body = await ctx.request.read()
        else:
            async with asyncio.timeout(server.body_timeout_seconds):
                ctx.raw_body = await ctx.request.read()
    except web.HTTPRequestEntityTooLarge:                      # no Content-Length: counted while reading
        raise _too_large(server.max_body_bytes) from None
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {server.body_timeout_seconds:g}s "
                             "(server.body_timeout_seconds)") from None
    _parse_body(ctx, sroute)


def _parse_body(ctx: RequestContext, sroute: SurfaceRoute) -> None:
    if not sroute.json_body:
        ctx.body = {}
        return
    try:
        body = orjson.loads(ctx.raw_body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestRejected("request body must be a JSON object")
    ctx.body = body


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than the limit of {limit} bytes (server.max_body_bytes)")


#: functions plugins add to reshape refusals for the client (plugins/agents: statuses a coding
#: agent stops on instead of retrying)
ERROR_MAPPERS: StashKey[list[Callable[[RequestContext, GatewayError], GatewayError]]] = StashKey("error_mappers")


def error_response(ctx: RequestContext, err: GatewayError) -> web.Response:
    for remap in ctx.gateway.stash.get(ERROR_MAPPERS, ()):
        err = remap(ctx, err)
    ctx.status = err.status
    ctx.error_reason = getattr(err, "reason", err.type)
    headers = {"x-request-id": ctx.request_id, **err.headers}
    if ctx.route is not None:
        headers["x-relaygate-served-model"] = ctx.route.served.name
    response = web.Response(status=err.status, body=orjson.dumps(ctx.api.error_body(err, ctx.request_id)),
                            content_type="application/json", headers=headers)
    if isinstance(err, (PayloadTooLarge, RequestTimeout)):
        response.force_close()                 # the rest of the body is unread: this connection is done
    return response


def _upstream_error(ctx: RequestContext, err: UpstreamStatusError) -> web.Response:
    """Relay a provider's error in the client's format, without leaking our credentials."""
    route = ctx.route
    assert route is not None
    if err.status in (401, 403):
        # The provider refused *our* credentials: a gateway problem, and its message
        # may quote part of the key. Never pass it on.
        return error_response(ctx, GatewayError(
            f"provider {route.provider.name!r} rejected the gateway's credentials (HTTP {err.status})",
            status=502, type="upstream_auth_error"))
    # Providers quote the credential they were sent: never pass it on, whatever the status.
    body = scrub(err.body, route.provider.credentials())
    translated = route.exchange.error(err.status, body)
    if translated is not None:
        status, client_body = translated
        ctx.status = status
        return web.Response(status=status, body=orjson.dumps(client_body), content_type="application/json",
                            headers={"x-request-id": ctx.request_id,
                                     "x-relaygate-served-model": route.served.name})
    ctx.status = err.status
    headers = {"x-request-id": ctx.request_id, "x-relaygate-served-model": route.served.name}
    if "json" not in (err.content_type or ""):
        # A provider's (or its proxy's) text or HTML error page: the client's SDK can read only its own shape.
        body = orjson.dumps(ctx.api.error_body(GatewayError(
            f"provider {route.provider.name!r} answered HTTP {err.status}", status=err.status), ctx.request_id))
        err.content_type = "application/json"
    if "Retry-After" in err.upstream_headers:
        headers["Retry-After"] = err.upstream_headers["Retry-After"]
    return web.Response(status=err.status, body=body, headers=headers,
                        content_type=err.content_type or "application/json")



def new_context(gateway: Gateway, request: web.Request, api_id: str, surface: str) -> RequestContext:
    return RequestContext(request, gateway, gateway.apis.get(api_id), surface, new_request_id(),
                          path_params=dict(request.match_info))


async def require_principal(gateway: Gateway, ctx: RequestContext) -> None:
    """Authenticate, or raise AuthenticationFailed (401)."""
    ctx.principal = await gateway.hooks.authenticate(ctx)
    if ctx.principal is None:
        raise AuthenticationFailed("a valid gateway key is required (Authorization: Bearer <key>, "
                                   "x-api-key, x-goog-api-key or HTTP Basic with user 'token')")
