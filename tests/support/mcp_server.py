"""A real MCP server built with the official ``mcp`` SDK, served over real HTTP for the gateway tests.

``build_server()`` offers a few tools (``echo``, ``add``, ``whoami`` which answers the
Authorization header it received, ``delete_repo``, ``leak`` which returns an email), a
prompt (``review``) and resources (``docs://readme``, ``secret://plans``). ``serve()``
runs it with uvicorn in a thread on a free loopback port, over streamable HTTP (``/mcp``)
or the older HTTP+SSE transport (``/sse``). Every call is recorded in ``calls`` so
tests can tell what reached the server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer


@dataclass
class ServerLog:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def build_server(name: str = "tools", log: ServerLog | None = None) -> MCPServer:
    log = log if log is not None else ServerLog()
    mcp = MCPServer(name)

    def seen(ctx: Context, tool: str, args: Any) -> None:
        log.calls.append((tool, args))
        log.headers.append(dict(ctx.headers or {}))

    @mcp.tool()
    def echo(text: str, ctx: Context) -> str:
        """Echo the text back."""
        seen(ctx, "echo", text)
        return text

    @mcp.tool()
    def add(a: int, b: int, ctx: Context) -> int:
        """Add two numbers."""
        seen(ctx, "add", (a, b))
        return a + b

    @mcp.tool()
    def whoami(ctx: Context) -> str:
        """The Authorization header this server received."""
        seen(ctx, "whoami", None)
        return (ctx.headers or {}).get("authorization", "")

    @mcp.tool()
    def delete_repo(repo: str, ctx: Context) -> str:
        """Delete a repository (a tool no test policy should allow)."""
        seen(ctx, "delete_repo", repo)
        return f"deleted {repo}"

    @mcp.tool()
    def leak(ctx: Context) -> str:
        """Return a contact address (for output guardrails)."""
        seen(ctx, "leak", None)
        return "write to alice@example.com"

    @mcp.prompt()
    def review(code: str) -> str:
        """Review some code."""
        return f"Please review:\n{code}"

    @mcp.resource("docs://readme")
    def readme() -> str:
        return "the readme"

    @mcp.resource("secret://plans")
    def plans() -> str:
        return "the secret plans"

    mcp.log = log  # type: ignore[attr-defined]
    return mcp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: Any, port: int | None = None) -> Iterator[str]:
    """Run an ASGI *app* with uvicorn in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the MCP test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve(transport: str = "streamable_http", name: str = "tools") -> Iterator[tuple[str, ServerLog]]:
    """The test server over *transport*; yields (its MCP URL, its call log)."""
    log = ServerLog()
    mcp = build_server(name, log)
    if transport == "sse":
        with serve_app(mcp.sse_app()) as base:
            yield base + "/sse", log
    else:
        with serve_app(mcp.streamable_http_app()) as base:
            yield base + "/mcp", log
