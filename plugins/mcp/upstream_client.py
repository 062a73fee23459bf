"""A short-lived ``mcp`` SDK client session to one configured upstream, on its own transport.

Used where the gateway answers MCP itself (the aggregated ``/mcp``, and servers on the older
HTTP+SSE transport or on stdio): the SDK's ``streamable_http_client``, ``sse_client`` or
``stdio_client`` does the protocol; the command, URL and credentials come from the config.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import httpx2
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

if TYPE_CHECKING:
    from plugins.mcp.config import McpServerConfig


@asynccontextmanager
async def connect(cfg: McpServerConfig, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    read_timeout = cfg.timeouts.total_seconds or None
    async with AsyncExitStack() as stack:
        if cfg.transport == "sse":
            streams = await stack.enter_async_context(sse_client(
                cfg.url, headers=headers, timeout=cfg.timeouts.connect_seconds, sse_read_timeout=read_timeout or 300))
        elif cfg.transport == "stdio":
            params = StdioServerParameters(command=cfg.command[0], args=cfg.command[1:],
                                           env={k: v.get_secret_value() for k, v in cfg.env.items()} or None)
            streams = await stack.enter_async_context(stdio_client(params))
        else:
            http = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(
                read_timeout, connect=cfg.timeouts.connect_seconds))
            await stack.enter_async_context(http)
            streams = await stack.enter_async_context(streamable_http_client(cfg.url, http_client=http))
        session = await stack.enter_async_context(ClientSession(streams[0], streams[1],
                                                                read_timeout_seconds=read_timeout))
        await session.initialize()
        yield session
