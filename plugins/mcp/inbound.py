"""What a client request must be before anything else happens: from an allowed Host/Origin, and
one JSON-RPC message of bounded size (plugins/mcp/messages.py checks its shape)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any


from plugins.mcp.messages import INVALID_REQUEST, MessageError, check_method, parse

if TYPE_CHECKING:
    from aiohttp import web

    from plugins.mcp.config import McpConfig


def _host_ok(value: str | None, allowed: list[str]) -> bool:
    if "*" in allowed:
        return True
    return value is not None and any(value == a or fnmatchcase(value, a) for a in allowed)


def check_transport(request: web.Request, config: McpConfig) -> None:
    """DNS-rebinding protection: a browser page on another site must not reach a local gateway."""
    if not _host_ok(request.headers.get("Host"), config.allowed_hosts):
        raise MessageError(INVALID_REQUEST, "Invalid Host header: not in mcp.allowed_hosts", status=421)
    origin = request.headers.get("Origin")
    if origin is not None and not _host_ok(origin, config.allowed_origins):
        raise MessageError(INVALID_REQUEST, "Invalid Origin header: not in mcp.allowed_origins", status=403)


async def read_message(request: web.Request, limit: int) -> tuple[bytes, dict[str, Any]]:
    too_large = MessageError(INVALID_REQUEST, f"the message is larger than {limit} bytes (mcp.max_message_bytes)",
                             status=413)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = bytearray()
    async for chunk in request.content.iter_any():
        raw += chunk
        if len(raw) > limit:
            raise too_large
    ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise MessageError(INVALID_REQUEST, "Content-Type must be application/json", status=415)
    msg = parse(bytes(raw))
    check_method(msg)
    return bytes(raw), msg


