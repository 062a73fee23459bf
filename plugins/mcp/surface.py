"""The MCP gateway plugin: its config sections, its routes and its state on every config load."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from plugins.mcp.config import McpConfig, McpServerConfig
from plugins.mcp.messages import INVALID_REQUEST
from plugins.mcp.routes import API_ID, serve
from plugins.mcp.state import MCP_STATE, build_state
from proxy import hookimpl
from proxy.apis import Api

if TYPE_CHECKING:
    from proxy.apis import ApiRegistry
    from proxy.config import Settings
    from proxy.errors import GatewayError
    from proxy.gateway import Gateway
    from proxy.sections import Spec
    from proxy.surfaces import RouteTable


class McpJsonRpc(Api):
    """Errors of the MCP routes are JSON-RPC errors (the core renders refusals with this shape)."""

    id = API_ID

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": err.message}}


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"mcp_servers": (dict[str, McpServerConfig], {}), "mcp": McpConfig}


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(McpJsonRpc())


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    async def one(request: web.Request) -> web.StreamResponse:
        return await serve(gateway, request, request.match_info["server"])

    async def aggregate(request: web.Request) -> web.StreamResponse:
        return await serve(gateway, request, None)

    for method in ("POST", "GET", "DELETE"):
        routes.add(method, "/mcp", aggregate)
        routes.add(method, "/mcp/{server}", one)


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    gateway.stash[MCP_STATE] = build_state(gateway.settings, gateway.stash.get(MCP_STATE))


@hookimpl
def relaygate_config_warnings(settings: Settings) -> list[str]:
    config = settings.section(McpConfig)
    servers: dict[str, McpServerConfig] = settings.mcp_servers  # type: ignore[attr-defined]
    warnings = []
    for name, server in servers.items():
        if server.transport == "stdio" and not config.stdio_enabled:
            warnings.append(f"mcp_servers.{name}: a stdio server, and mcp.stdio_enabled is false: it is not served")
    if servers and not config.policies:
        warnings.append("mcp_servers are configured but mcp.policies grants nothing: every caller is denied")
    state = build_state(settings, None)
    if any(s.credentials == "per_user" for s in servers.values()) and state.vault is None:
        warnings.append("a server uses per_user credentials, and the vault is not usable "
                        "(set mcp.vault_path and mcp.vault_key)")
    return warnings
