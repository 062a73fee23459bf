"""``/mcp/{server}`` and ``/mcp``: who calls, whether the request may pass, and where it goes.

Every request: Host/Origin check (DNS rebinding), the gateway's own authentication stage
(the same keys and SSO principals as the model surfaces), then the server name is looked
up in ``mcp_servers`` (a name the caller may not reach is answered as unknown, so its
existence does not leak). A streamable-HTTP server is relayed (plugins/mcp/relay.py); SSE
and stdio servers, and the aggregated ``/mcp``, are answered by the gateway's own MCP
endpoint (plugins/mcp/endpoint.py) over the ``mcp`` SDK's client transports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from plugins.mcp import metering
from plugins.mcp.answers import Answers
from plugins.mcp.calls import admit_call
from plugins.mcp.inbound import check_transport, read_message
from plugins.mcp.messages import INTERNAL_ERROR, INVALID_REQUEST, MessageError, error_body, is_request
from plugins.mcp.policy import Caller, grants_kind, may_reach
from plugins.mcp.relay import SESSION, relay, upstream_request_headers
from plugins.mcp.state import MCP_STATE, McpState
from proxy.errors import GatewayError
from proxy.pipeline import new_context, require_principal
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.mcp")
API_ID = "mcp.jsonrpc"
CALLER: StashKey[Caller] = StashKey("mcp.caller")


def unknown_server(name: str) -> MessageError:
    return MessageError(INVALID_REQUEST, f"no MCP server named {name!r} is available to this key", status=404)


async def serve(gateway: Gateway, request: web.Request, server: str | None) -> web.StreamResponse:
    state = gateway.stash.get(MCP_STATE)
    ctx = new_context(gateway, request, API_ID, "mcp")
    ctx.endpoint_name = f"mcp/{server}" if server else "mcp"
    try:
        if state is None:
            raise MessageError(INTERNAL_ERROR, "the MCP gateway is not configured", status=503)
        check_transport(request, state.config)
        await require_principal(gateway, ctx)
        assert ctx.principal is not None
        caller = ctx.stash[CALLER] = Caller.of(ctx.principal)
        if server is None:
            from plugins.mcp.endpoint import serve_aggregate     # the SDK's client side: loaded on first use
            response = await serve_aggregate(ctx, state, caller)
        elif server not in state.servers or not may_reach(state.config, caller, server):
            raise unknown_server(server)
        elif state.servers[server].transport == "streamable_http":
            response = await _relay(ctx, state, caller, server)
        else:
            from plugins.mcp.endpoint import serve_single
            response = await serve_single(ctx, state, caller, server)
        ctx.status = ctx.status or response.status
        return response
    except MessageError as err:
        ctx.status = err.status
        return web.Response(status=err.status, body=err.body(), content_type="application/json")
    except GatewayError as err:               # authentication (401), limits of the auth stage
        ctx.status = err.status
        return web.Response(status=err.status, body=error_body(None, INVALID_REQUEST, err.message),
                            content_type="application/json", headers=err.headers)
    finally:
        gateway.hooks.request_finished(ctx)


async def _relay(ctx: RequestContext, state: McpState, caller: Caller, server: str) -> web.StreamResponse:
    request, cfg = ctx.request, state.servers[server]
    upstream_session = None
    if (presented := request.headers.get(SESSION)) is not None:
        upstream_session = state.sessions.unwrap(server, caller.key_id, presented)
        if upstream_session is None:          # another caller's, forged, or signed by another secret
            raise MessageError(INVALID_REQUEST, "Session not found", status=404)
    allows = state.allows(caller, server)
    answers = Answers(ctx, state, server, allows, grants_kind(state.config, caller, server, "resources"))
    body = None
    if request.method == "POST":
        raw, msg = await read_message(request, state.config.max_message_bytes)
        call = await admit_call(ctx, state, caller, server, msg, len(raw)) if is_request(msg) else None
        answers.expect(msg, call)
        body = orjson.dumps(msg) if call is not None and call.masked else raw
    elif request.method not in ("GET", "DELETE"):
        raise MessageError(INVALID_REQUEST, "Method Not Allowed", status=405)
    headers = upstream_request_headers(request, state.upstream_headers(server, caller), upstream_session)
    session = ctx.gateway.session
    assert session is not None
    try:
        return await relay(request, session, cfg, server, headers, body, answers,
                           lambda sid: state.sessions.wrap(server, caller.key_id, sid),
                           state.config.max_upstream_message_bytes)
    except MessageError:
        if answers.call is not None:
            metering.record(ctx, answers.call, "error")
        raise
