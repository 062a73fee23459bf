"""A test-only HTTP forwarder that adds a gateway key, for MCP clients that cannot send headers.

The conformance suite has no option for request headers; it talks to this forwarder, which
passes every request (Host and Origin unchanged, so the gateway's DNS-rebinding checks see
what the suite sent) to one gateway path with ``Authorization: Bearer <key>`` added, and
streams the answer back as it comes (SSE included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection"}


@asynccontextmanager
async def key_forwarder(target: str, key: str) -> AsyncIterator[str]:
    """Serve on a loopback port; every path is sent to *target*. Yields the forwarder's URL."""
    session = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["Authorization"] = f"Bearer {key}"
        body = await request.read()
        async with session.request(request.method, target, headers=headers, data=body or None,
                                   allow_redirects=False, timeout=aiohttp.ClientTimeout(total=None)) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP})
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (aiohttp.ClientError, ConnectionResetError):
                pass
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        await runner.cleanup()
        await session.close()
