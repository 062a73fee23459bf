"""Per-user MCP credentials through the admin API (the admin token guards it, as every /admin path).

    PUT    /admin/v1/mcp/credentials/{server}/{owner}   {"credential": "..."}  -> 204, stored encrypted
    DELETE /admin/v1/mcp/credentials/{server}/{owner}                          -> 204, or 404

The credential is never answered back, listed or logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from plugins.admin.api import PREFIX, guarded
from plugins.mcp.state import MCP_STATE
from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.surfaces import RouteTable

MAX_BODY = 16 * 1024


def _problem(status: int, message: str) -> web.Response:
    body = {"error": {"type": "invalid_request_error" if status < 500 else "server_error", "message": message}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    async def put(request: web.Request) -> web.StreamResponse:
        state = gateway.stash.get(MCP_STATE)
        server, owner = request.match_info["server"], request.match_info["owner"]
        if state is None or server not in state.servers:
            return _problem(404, f"no MCP server named {server!r} is configured")
        if state.vault is None:
            return _problem(409, "the MCP credential vault is not configured (mcp.vault_path, mcp.vault_key)")
        raw = await request.content.read(MAX_BODY + 1)
        try:
            credential = orjson.loads(raw).get("credential") if len(raw) <= MAX_BODY else None
        except (orjson.JSONDecodeError, AttributeError):
            credential = None
        if not isinstance(credential, str) or not credential or len(owner) > 128:
            return _problem(400, "the body must be {\"credential\": \"<non-empty string>\"} of at most 16 KiB")
        state.vault.put(server, owner, credential)
        return web.Response(status=204)

    async def delete(request: web.Request) -> web.StreamResponse:
        state = gateway.stash.get(MCP_STATE)
        server, owner = request.match_info["server"], request.match_info["owner"]
        if state is None or state.vault is None or not state.vault.delete(server, owner):
            return _problem(404, f"no credential of {owner!r} is stored for {server!r}")
        return web.Response(status=204)

    path = f"{PREFIX}/mcp/credentials/{{server}}/{{owner}}"
    routes.add("PUT", path, guarded(gateway, put))
    routes.add("DELETE", path, guarded(gateway, delete))
