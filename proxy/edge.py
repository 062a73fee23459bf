"""What every client connection and answer gets, whatever the route.

- A header deadline (``server.header_timeout_seconds``): aiohttp itself only
  closes a connection that stays silent for its keep-alive time (an hour by
  default, so reverse proxies close first), and a client that drips header
  bytes is never cut. :class:`GuardedRequestHandler` gives a request's headers
  that long, counted from connecting or from the first byte of a request on a
  kept-alive connection, then answers 408 and closes. Idle keep-alive
  connections keep aiohttp's own, longer timeout.
- A request id on every answer: the pipeline sets its own; the middleware adds
  one to the router's 404/405 and to plain routes, the handler to aiohttp's own
  protocol errors (a header line too long, ...).
- A plain route's unexpected exception as a JSON 500 (in the surface's shape under a surface).
- The router's 404/405 under a surface's prefix (``/anthropic``, ``/gemini``,
  ``/v1`` ...) in that surface's JSON error shape, so SDKs show a real message.

The handler reads a few private attributes of aiohttp's RequestHandler
(aiohttp is pinned; tests/proxy/test_client_limits.py covers the behaviour).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from proxy.errors import GatewayError, InternalError, UnknownEndpoint
from proxy.pipeline import new_request_id

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

    from proxy.gateway import Gateway

REQUEST_ID = "x-request-id"
log = logging.getLogger("relaygate.edge")


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler with a deadline for request headers."""

    __slots__ = ("header_timeout", "_header_timer")

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def _awaiting_headers(self) -> bool:
        # start() waits on _waiter only between requests, with no complete request queued.
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self._loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()                               # the first request's headers are due from now on

    def data_received(self, data: bytes) -> None:
        awaiting = self._awaiting_headers()
        super().data_received(data)
        if self._messages or self._request_in_progress:
            self._disarm()                        # the headers are complete
        elif awaiting and data:
            self._arm()                           # the first bytes of the next request on a kept-alive connection

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self._awaiting_headers():
            return                                # a request is being handled: its body has its own deadline
        transport.write(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n"
                        + f"{REQUEST_ID}: {new_request_id()}\r\n\r\n".encode())
        self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        response = super().handle_error(request, status, exc, message)
        response.headers.setdefault(REQUEST_ID, new_request_id())
        return response


class _GuardedServer(web.Server):
    header_timeout: float

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, header_timeout=self.header_timeout, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """aiohttp's AppRunner whose connections are :class:`GuardedRequestHandler` s."""

    def __init__(self, app: web.Application, *, header_timeout_seconds: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout_seconds = header_timeout_seconds

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app's own Server, built with every option; only the handler it creates changes.
        server.__class__ = _GuardedServer
        server.header_timeout = self.header_timeout_seconds   # type: ignore[attr-defined]
        return server


def surface_shapes(gateway: Gateway) -> dict[str, str]:
    """First path segment -> the wire API whose error shape answers there (the first surface route's)."""
    shapes: dict[str, str] = {}
    for sroute in gateway.routes.surfaces:
        first = sroute.path.lstrip("/").split("/", 1)[0]
        # a variable first segment of literal choices ({version:v1|v1beta1}) stands for each of them
        choices = re.fullmatch(r"\{\w+:([\w.-]+(?:\|[\w.-]+)*)\}", first)
        for segment in choices.group(1).split("|") if choices else [first]:
            shapes.setdefault("/" + segment, sroute.api)
    return shapes


def request_ids(gateway: Gateway) -> Middleware:
    """Middleware: a request id on every answer; the router's 404/405 in the surface's error shape."""
    shapes = surface_shapes(gateway)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            api = shapes.get("/" + request.path.lstrip("/").split("/", 1)[0])
            if exc.status not in (404, 405) or api is None:
                exc.headers.setdefault(REQUEST_ID, new_request_id())
                raise
            response = _shaped(gateway, api, request, exc)
        except Exception:
            # A plain route's bug (the pipeline answers its own): JSON, never aiohttp's text page.
            request_id = new_request_id()
            log.exception("internal error on %s %s (%s)", request.method, request.path, request_id)
            api = shapes.get("/" + request.path.lstrip("/").split("/", 1)[0])
            err = InternalError(request_id)
            body = (gateway.apis.get(api).error_body(err, request_id) if api is not None
                    else {"error": {"message": err.message, "type": err.type}})
            response = web.Response(status=500, body=orjson.dumps(body), content_type="application/json",
                                    headers={REQUEST_ID: request_id})
        if not response.prepared and REQUEST_ID not in response.headers:
            response.headers[REQUEST_ID] = new_request_id()
        return response

    return middleware


def _shaped(gateway: Gateway, api: str, request: web.Request, exc: web.HTTPException) -> web.Response:
    if exc.status == 405:
        err = GatewayError(f"{request.method} is not allowed on {request.path} (allowed: "
                           f"{exc.headers.get('Allow', '')})", status=405, type="invalid_request_error")
    else:
        err = UnknownEndpoint(f"no such API route: {request.method} {request.path}")
    request_id = new_request_id()
    headers = {REQUEST_ID: request_id}
    if "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return web.Response(status=exc.status, body=orjson.dumps(gateway.apis.get(api).error_body(err, request_id)),
                        content_type="application/json", headers=headers)
