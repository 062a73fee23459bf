"""The gateway's own MCP endpoint: the aggregated ``/mcp``, and SSE or stdio servers at ``/mcp/{server}``.

Stateless streamable HTTP (JSON answers, no session): ``initialize`` is answered here;
each list or call opens an SDK client session to the upstream(s) concerned
(plugins/mcp/upstream_client.py). On ``/mcp`` tool and prompt names are namespaced
``<server>__<name>``, and only servers the caller may reach are asked; a resource URI is
read from the first reachable server whose policy allows it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import mcp_types as t
import orjson
from aiohttp import web
from pydantic import BaseModel

from plugins.mcp import metering
from plugins.mcp.calls import admit_call
from plugins.mcp.filtering import filter_list
from plugins.mcp.messages import LIST_METHODS, UPSTREAM_ERROR, MessageError, error_body, is_request
from plugins.mcp.policy import grants_kind
from plugins.mcp.inbound import read_message

if TYPE_CHECKING:
    from mcp import ClientSession

    from plugins.mcp.policy import Caller
    from plugins.mcp.state import McpState
    from proxy.context import RequestContext

log = logging.getLogger("relaygate.mcp")
SEP = "__"
_HANDSHAKE = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


def connect(cfg: Any, headers: dict[str, str]) -> Any:
    # the SDK's client transports (httpx2, starlette, ...) load on first use, not at every CLI start
    from plugins.mcp.upstream_client import connect as sdk_connect
    return sdk_connect(cfg, headers)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _ok(msg_id: Any, result: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result}),
                        content_type="application/json")


async def serve_aggregate(ctx: RequestContext, state: McpState, caller: Caller) -> web.StreamResponse:
    return await _serve(ctx, state, caller, state.reachable(caller), aggregate=True)


async def serve_single(ctx: RequestContext, state: McpState, caller: Caller, server: str) -> web.StreamResponse:
    return await _serve(ctx, state, caller, [server], aggregate=False)


async def _serve(ctx: RequestContext, state: McpState, caller: Caller, servers: list[str],
                 aggregate: bool) -> web.StreamResponse:
    if ctx.request.method != "POST":
        raise MessageError(t.INVALID_REQUEST, "Method Not Allowed: this endpoint is stateless (POST only)",
                           status=405)
    raw, msg = await read_message(ctx.request, state.config.max_message_bytes)
    if not is_request(msg):
        return web.Response(status=202)                 # notifications, answers: nothing waits for them here
    msg_id, method = msg["id"], msg["method"]
    params = msg.get("params") or {}
    if method == "initialize":
        asked = params.get("protocolVersion")
        return _ok(msg_id, _dump(t.InitializeResult(
            protocol_version=asked if asked in _HANDSHAKE else _HANDSHAKE[-1],
            capabilities=t.ServerCapabilities(tools=t.ToolsCapability(), prompts=t.PromptsCapability(),
                                              resources=t.ResourcesCapability()),
            server_info=t.Implementation(name="relaygate", version="0.1.0"))))
    if method in ("ping", "logging/setLevel"):
        return _ok(msg_id, {})
    if method in LIST_METHODS:
        return _ok(msg_id, await _list(ctx, state, caller, servers, method, aggregate))
    if method in ("tools/call", "prompts/get"):
        return await _call(ctx, state, caller, servers, msg, len(raw), aggregate)
    if method == "resources/read":
        return await _read(ctx, state, caller, servers, msg, len(raw))
    raise MessageError(t.METHOD_NOT_FOUND, f"Method not found: {method!r} is not served on this endpoint",
                       status=200, msg_id=msg_id)


async def _list_one(state: McpState, caller: Caller, server: str, method: str) -> dict[str, Any]:
    async with connect(state.servers[server], state.upstream_headers(server, caller)) as session:
        call = {"tools/list": session.list_tools, "prompts/list": session.list_prompts,
                "resources/list": session.list_resources,
                "resources/templates/list": session.list_resource_templates}[method]
        result: dict[str, Any] = _dump(await call())
        items, field = [], LIST_METHODS[method]
        items.extend(result.get(field, []))
        while result.get("nextCursor"):
            result = _dump(await call(params=t.PaginatedRequestParams(cursor=result["nextCursor"])))
            items.extend(result.get(field, []))
        return {field: items}


async def _list(ctx: RequestContext, state: McpState, caller: Caller, servers: list[str], method: str,
                aggregate: bool) -> dict[str, Any]:
    field = LIST_METHODS[method]
    found = await asyncio.gather(*(_list_one(state, caller, s, method) for s in servers), return_exceptions=True)
    merged: list[Any] = []
    for server, result in zip(servers, found):
        if isinstance(result, BaseException):
            if not aggregate:
                raise _upstream_failed(server, result)
            log.warning("MCP server %r left out of %s: %s", server, method, type(result).__name__)
            continue
        rename = (lambda name, s=server: f"{s}{SEP}{name}") if aggregate else None
        kept = filter_list(method, result, state.allows(caller, server),
                           grants_kind(state.config, caller, server, "resources"), rename)
        merged.extend(kept[field])
    return {field: merged}


def _upstream_failed(server: str, exc: BaseException) -> MessageError:
    if isinstance(exc, MessageError):
        return exc
    return MessageError(UPSTREAM_ERROR, f"MCP server {server!r} failed: {type(exc).__name__}", status=502)


def _split(name: str, servers: list[str], aggregate: bool) -> tuple[str, str] | None:
    if not aggregate:
        return servers[0], name
    server, sep, rest = name.partition(SEP)
    return (server, rest) if sep and server in servers and rest else None


async def _call(ctx: RequestContext, state: McpState, caller: Caller, servers: list[str], msg: dict[str, Any],
                size: int, aggregate: bool) -> web.Response:
    msg_id, method = msg["id"], msg["method"]
    shown = (msg.get("params") or {}).get("name")
    found = _split(shown, servers, aggregate) if isinstance(shown, str) else None
    if found is None:
        what = "Unknown tool" if method == "tools/call" else "Unknown prompt"
        raise MessageError(t.INVALID_PARAMS, f"{what}: {shown}", status=200, msg_id=msg_id)
    server, name = found
    inner = dict(msg, params=dict(msg.get("params") or {}, name=name))
    call = await admit_call(ctx, state, caller, server, inner, size, shown_name=shown)
    params = inner["params"]
    try:
        async with connect(state.servers[server], state.upstream_headers(server, caller)) as session:
            result = await _send(session, method, params)
    except Exception as exc:
        if call is not None:
            metering.record(ctx, call, "error", error=type(exc).__name__)
        return _error(msg_id, exc, server)
    if call is not None:
        blocked = state.check_result(server, result)
        out = orjson.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result})
        if blocked is not None:
            metering.record(ctx, call, "guardrail", len(out), error=blocked)
            return web.Response(body=error_body(msg_id, -32004, blocked), content_type="application/json")
        metering.record(ctx, call, "tool_error" if result.get("isError") else "ok", len(out))
        return web.Response(body=out, content_type="application/json")
    return _ok(msg_id, result)


async def _send(session: ClientSession, method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "tools/call":
        return _dump(await session.call_tool(params["name"], params.get("arguments") or {}))
    return _dump(await session.get_prompt(params["name"], params.get("arguments") or None))


def _error(msg_id: Any, exc: Exception, server: str) -> web.Response:
    error = getattr(exc, "error", None)                 # the upstream's own JSON-RPC error (McpError)
    if isinstance(error, t.ErrorData):
        return web.Response(body=error_body(msg_id, error.code, error.message), content_type="application/json")
    failed = _upstream_failed(server, exc)
    return web.Response(status=failed.status, body=error_body(msg_id, failed.code, failed.message),
                        content_type="application/json")


async def _read(ctx: RequestContext, state: McpState, caller: Caller, servers: list[str], msg: dict[str, Any],
                size: int) -> web.Response:
    msg_id = msg["id"]
    uri = str((msg.get("params") or {}).get("uri", ""))
    allowed = []
    for server in servers:
        try:
            await admit_call(ctx, state, caller, server, msg, size)
            allowed.append(server)
        except MessageError:
            continue
    for server in allowed:
        try:
            async with connect(state.servers[server], state.upstream_headers(server, caller)) as session:
                return _ok(msg_id, _dump(await session.read_resource(uri)))
        except Exception as exc:
            if len(allowed) == 1:
                return _error(msg_id, exc, server)
    raise MessageError(t.INVALID_PARAMS, f"Resource not found: {uri}", status=200, msg_id=msg_id)
