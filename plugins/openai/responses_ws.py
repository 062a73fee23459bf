"""WebSocket mode of the Responses API: ``GET /openai/v1/responses`` and ``/v1/responses`` upgraded.

Open Responses' WebSocket transport, for every provider's model. The client authenticates the
upgrade with the same credentials as HTTP (a bad key gets 401 before any upgrade), then sends
``response.create`` messages; they run one after another, and each is a whole request through
the HTTP route's own pipeline (:func:`proxy.pipeline.handle` with a reply channel): key scopes,
limits and budgets, guardrails, retries and fallbacks, the ledger row and metrics, exactly as a
``POST /responses`` with ``stream: true``. Its events go out as the SSE route would send them,
one text frame each (plugins/openai/responses_ws_channel.py); a refusal or failure before the
stream becomes one ``error`` event (``status`` and ``error.code``). The socket remembers its
last response for ``previous_response_id``, ``store: false`` included
(plugins/openai/responses_ws_chain.py); a failed continuation forgets it, so retrying that id
gets ``previous_response_not_found``.

Upstream, every provider is called over HTTP, OpenAI included (not OpenAI's own WebSocket
mode): each turn must be an attempt of the one relay path (retries, fallbacks to another
provider, circuit breakers, the stream meter), a chain may move between providers on a
fallback, and the socket's memory makes a turn stateless for the provider anyway.

Limits (``responses.websocket`` in the config): no message for ``idle_timeout_seconds``
between responses closes the socket (1000); a message over ``max_message_bytes`` closes it
(1009); after ``max_connection_seconds`` (the spec's 60 minutes) the next turn is refused with
``websocket_connection_limit_reached`` and the socket closes. Pings every ``heartbeat_seconds``
find dead peers. When the gateway drains for shutdown, idle sockets close at once with 1001
and busy ones right after their response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSCloseCode, WSMessage, WSMsgType, web

from plugins.openai.errors import openai_error_body
from plugins.openai.response_owners import ResponsesConfig, WebSocketConfig
from plugins.openai.responses_ws_chain import SocketChain, create_body
from plugins.openai.responses_ws_channel import TurnChannel
from plugins.openai.responses_ws_warmup import is_warmup, warmup_events
from proxy.errors import GatewayError, RequestRejected
from proxy.pipeline import error_response, handle, new_context, new_request_id, require_principal
from proxy import hookimpl
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.surfaces import Handler, SurfaceRoute

log = logging.getLogger("relaygate.responses.ws")

API = "openai.responses"
CLOSED = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})
#: messages that may wait while a response is in progress (each at most max_message_bytes)
MAX_QUEUED = 16
#: how often the drain watcher looks whether the gateway started shutting down
DRAIN_POLL_SECONDS = 0.25


#: the open sockets of this process (the drain watcher closes them)
OPEN_SOCKETS: StashKey[set[Socket]] = StashKey("responses_ws.sockets")
_WATCHER: StashKey[asyncio.Task[None]] = StashKey("responses_ws.watcher")


def ws_error(status: int, error: dict[str, Any]) -> dict[str, Any]:
    """The spec's WebSocket ``error`` event for an OpenAI-shaped ``error`` object."""
    code = error.get("code") or error.get("type") or "error"
    payload = {"type": str(error.get("type") or "invalid_request_error"), "code": str(code),
               "message": str(error.get("message") or "")}
    if error.get("param") is not None:                 # optional: absent rather than null
        payload["param"] = error["param"]
    return {"type": "error", "status": status, "error": payload}


def answer_events(response: web.StreamResponse) -> list[dict[str, Any]]:
    """The events for an answer the pipeline returned instead of streaming (an error, a JSON body)."""
    raw = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if response.status >= 400 or not isinstance(body, dict):
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            err = {"type": "upstream_error", "message": raw.decode("utf-8", "replace")[:2000]
                   or f"HTTP {response.status}"}
        return [ws_error(response.status if response.status >= 400 else 502, err)]
    kind = "response.completed" if body.get("status") in ("completed", None) else f"response.{body['status']}"
    return [{"type": kind, "sequence_number": 0, "response": body}]


class Socket:
    """One client's WebSocket: its messages, run one at a time, and its chain."""

    def __init__(self, gateway: Gateway, sroute: SurfaceRoute, request: web.Request,
                 ws: web.WebSocketResponse, config: WebSocketConfig) -> None:
        self.gateway, self.sroute, self.request, self.ws, self.config = gateway, sroute, request, ws, config
        self.chain = SocketChain()
        self.busy = False
        self.queued: deque[WSMessage] = deque()
        self._reader: asyncio.Future[WSMessage] | None = None
        #: the reply channel of the turn in progress
        self.channel: TurnChannel | None = None

    @property
    def answered(self) -> bool:
        """The turn in progress has sent its terminal event (only its bookkeeping is left)."""
        return self.channel is not None and self.channel.final is not None

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(event).decode())

    async def refuse(self, err: GatewayError) -> None:
        await self.send(ws_error(err.status, openai_error_body(err, new_request_id())["error"]))

    async def serve(self) -> None:
        """Messages one at a time. The socket is read during a response too: pings are answered,
        further messages wait their turn, and a close from the client cancels the response."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.max_connection_seconds
        try:
            while not self.ws.closed:
                if self.gateway.draining:
                    await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"the gateway is shutting down")
                    return
                msg = self.queued.popleft() if self.queued else await self._receive(self.config.idle_timeout_seconds)
                if msg is None:
                    await self.ws.close(code=WSCloseCode.OK, message=b"idle timeout")
                    return
                if msg.type in CLOSED:
                    return
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if loop.time() >= deadline:
                    await self.refuse(GatewayError(
                        f"this WebSocket has been open for {self.config.max_connection_seconds:g}s, its limit: "
                        "open a new connection (and start a new chain unless the response was stored)",
                        status=400, type="websocket_connection_limit_reached"))
                    await self.ws.close(code=WSCloseCode.OK, message=b"connection limit reached")
                    return
                if not await self._run(msg.data):
                    return
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._reader

    async def _receive(self, timeout: float | None) -> WSMessage | None:
        """The next frame, or None after *timeout*; one read in flight at a time, kept across calls."""
        if self._reader is None:
            self._reader = asyncio.ensure_future(self.ws.receive())
        done, _ = await asyncio.wait({self._reader}, timeout=timeout)
        if not done:
            return None
        msg, self._reader = self._reader.result(), None
        return msg

    async def _run(self, data: str | bytes) -> bool:
        """One turn, reading the socket meanwhile; False when the client closed it."""
        self.busy = True
        self.channel = None
        task: asyncio.Future[None] = asyncio.ensure_future(self.turn(data))
        try:
            while not task.done():
                if self._reader is None:
                    self._reader = asyncio.ensure_future(self.ws.receive())
                await asyncio.wait((task, self._reader), return_when=asyncio.FIRST_COMPLETED)
                if not self._reader.done():
                    continue
                msg, self._reader = self._reader.result(), None
                if msg.type in CLOSED:
                    if self.answered:               # the terminal event went out: let the request finish
                        await asyncio.wait((task,))  # (usage, ledger, the Responses store) undisturbed
                    else:
                        task.cancel()               # the client left: stop the provider call (ledger: 499)
                    with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                        await task
                    return False
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    if len(self.queued) >= MAX_QUEUED:
                        await self.refuse(RequestRejected(
                            f"more than {MAX_QUEUED} messages are waiting for the response in progress; "
                            "send the next response.create after its terminal event"))
                    else:
                        self.queued.append(msg)
            task.result()
            return True
        finally:
            self.busy = False
            if not task.done():                     # the handler itself was cancelled (connection lost)
                if not self.answered:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                    await task

    async def turn(self, data: str | bytes) -> None:
        """One ``response.create``: a request through the pipeline, its events to the socket."""
        try:
            body = create_body(data)
        except RequestRejected as err:
            await self.refuse(err)
            return
        prev = body.get("previous_response_id")
        continued = self.chain.continues(body)
        sent = self.chain.expand(body) if continued else body
        if is_warmup(sent):
            try:
                events = await warmup_events(self.gateway, self.sroute, self.request, sent)
            except GatewayError as err:
                await self.refuse(err)
                return
            for event in events:
                await self.send(event)
            self.chain.record(sent, events[-1]["response"])
            return
        channel = self.channel = TurnChannel(self.ws, orjson.dumps(sent), str(prev) if continued else None)
        response = await handle(self.gateway, self.sroute, self.request, channel)
        if not channel.started:
            events = answer_events(response)
            for event in events:
                await self.send(event)
            if events[0]["type"] != "error":
                channel.final = events[0]["response"]
        if channel.completed and channel.final is not None:
            self.chain.record(sent, channel.final)
        elif isinstance(prev, str):
            self.chain.evict(prev)


def websocket_route(gateway: Gateway, sroute: SurfaceRoute) -> Handler:
    """The GET handler beside ``POST {prefix}/responses``: a WebSocket upgrade, else 405."""
    async def handler(request: web.Request) -> web.StreamResponse:
        config = gateway.settings.section(ResponsesConfig).websocket
        ctx = new_context(gateway, request, API, sroute.surface)
        probe = web.WebSocketResponse()
        if not config.enabled or not probe.can_prepare(request).ok:
            allowed = "GET, POST" if config.enabled else "POST"
            return error_response(ctx, GatewayError(
                f"{request.method} {request.path} is a WebSocket endpoint: send a WebSocket upgrade, or POST "
                "a request" if config.enabled else f"GET is not allowed on {request.path} (allowed: POST)",
                status=405, type="invalid_request_error", headers={"Allow": allowed}))
        try:
            await require_principal(gateway, ctx)     # the upgrade's own credentials, as over HTTP
        except GatewayError as err:
            response = error_response(ctx, err)
            gateway.hooks.request_finished(ctx)
            return response
        ctx.status = 101
        gateway.hooks.request_finished(ctx)            # the upgrade is a request too (access log, metrics)
        limit = config.max_message_bytes or gateway.settings.server.max_body_bytes
        ws = web.WebSocketResponse(heartbeat=config.heartbeat_seconds, max_msg_size=limit)
        await ws.prepare(request)
        sock = Socket(gateway, sroute, request, ws, config)
        sockets = gateway.stash.get(OPEN_SOCKETS)
        if sockets is not None:
            sockets.add(sock)
            _watch(gateway)
        try:
            await sock.serve()
        except ConnectionResetError:
            pass                                       # the client left mid-response (ledger: 499)
        finally:
            if sockets is not None:
                sockets.discard(sock)
            if not ws.closed:
                with contextlib.suppress(ConnectionResetError):
                    await ws.close()
        return ws
    return handler


def _watch(gateway: Gateway) -> None:
    """A drain watcher while sockets are open (an idle gateway without sockets polls nothing)."""
    task = gateway.stash.get(_WATCHER)
    if task is None or task.done():
        gateway.stash[_WATCHER] = asyncio.get_running_loop().create_task(watch_drain(gateway))


async def watch_drain(gateway: Gateway) -> None:
    """Close idle sockets as soon as the gateway drains; busy ones close after their response."""
    # gateway.draining is a plain flag the core sets (proxy/serve.py): one poller per process, and
    # only while a socket is open (the next socket starts it again)
    while not gateway.draining:
        if not gateway.stash.get(OPEN_SOCKETS):
            return
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    for sock in list(gateway.stash.get(OPEN_SOCKETS, ())):
        if not sock.busy and not sock.ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await sock.ws.close(code=WSCloseCode.GOING_AWAY, message=b"the gateway is shutting down")


@hookimpl
def relaygate_startup(gateway: Gateway) -> None:
    gateway.stash[OPEN_SOCKETS] = set()


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    task = gateway.stash.pop(_WATCHER, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
