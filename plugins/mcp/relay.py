"""The streamable-HTTP relay: one client HTTP request, one upstream HTTP request, streamed back.

The upstream's own streamable HTTP transport (an ``mcp`` SDK server, or any other) answers
with JSON or an SSE stream; the relay keeps the transport's semantics (session ids, SSE
event ids for resumption, the GET stream of server requests such as sampling and
elicitation, DELETE) and changes only what the policy requires, message by message
(plugins/mcp/answers.py). Only these request headers reach the upstream: the MCP ones the
client sent and the server's configured (or the caller's per-user) credentials; never the
client's gateway key, cookies, Host or Origin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from plugins.mcp.messages import INTERNAL_ERROR, UPSTREAM_ERROR, MessageError, error_body
from plugins.mcp.sse_events import EventSplitter, EventTooLarge, data_of, with_data

if TYPE_CHECKING:
    from plugins.mcp.answers import Answers
    from plugins.mcp.config import McpServerConfig

#: MCP headers a client may send on to the upstream (Mcp-Session-Id is unwrapped separately)
FORWARDED = ("accept", "content-type", "mcp-protocol-version", "last-event-id", "mcp-method", "mcp-name")
SESSION = "mcp-session-id"


def upstream_request_headers(request: web.Request, credentials: dict[str, str], session: str | None) -> dict[str, str]:
    headers = {name: value for name in FORWARDED if (value := request.headers.get(name)) is not None}
    headers.update({k: v for k, v in request.headers.items() if k.lower().startswith("mcp-param-")})
    if session is not None:
        headers[SESSION] = session
    headers.update(credentials)
    return headers


def _timeout(cfg: McpServerConfig, streaming_get: bool) -> aiohttp.ClientTimeout:
    total = None if streaming_get or not cfg.timeouts.total_seconds else cfg.timeouts.total_seconds
    return aiohttp.ClientTimeout(total=total, sock_connect=cfg.timeouts.connect_seconds)


async def relay(request: web.Request, session: aiohttp.ClientSession, cfg: McpServerConfig, server: str,
                headers: dict[str, str], body: bytes | None, answers: Answers, wrap_session: Callable[[str], str],
                max_bytes: int) -> web.StreamResponse:
    """Send the client's request on and stream the transformed answer back."""
    method = request.method
    try:
        upstream = await session.request(method, cfg.url, data=body, headers=headers, allow_redirects=False,
                                         timeout=_timeout(cfg, method == "GET"))
    except (aiohttp.ClientConnectionError, OSError):
        raise MessageError(UPSTREAM_ERROR, f"MCP server {server!r} is unreachable", status=502) from None
    except TimeoutError:
        raise MessageError(UPSTREAM_ERROR, f"MCP server {server!r} did not answer in time", status=504) from None
    try:
        return await _answer(request, upstream, server, answers, wrap_session, max_bytes)
    finally:
        upstream.release()
        answers.unfinished()                  # a tool call whose result never came (refused, cut): metered


async def _answer(request: web.Request, upstream: aiohttp.ClientResponse, server: str, answers: Answers,
                  wrap_session: Callable[[str], str], max_bytes: int) -> web.StreamResponse:
    out_headers: dict[str, str] = {}
    if (sid := upstream.headers.get(SESSION)) is not None:
        out_headers[SESSION] = wrap_session(sid)
    if (version := upstream.headers.get("mcp-protocol-version")) is not None:
        out_headers["mcp-protocol-version"] = version
    if upstream.status in (401, 403):
        # The upstream refused the gateway's (or the caller's stored) credentials: never relay its
        # challenge, which would send the client to authenticate against the upstream directly.
        body = error_body(None, UPSTREAM_ERROR, f"MCP server {server!r} refused the gateway's credentials "
                          f"(HTTP {upstream.status})")
        return web.Response(status=502, body=body, content_type="application/json")
    ctype = upstream.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return await _stream(request, upstream, answers, out_headers, max_bytes)
    raw = await _read_capped(upstream, max_bytes, server)
    if ctype == "application/json" and raw and upstream.status < 300:
        changed = answers.transform(raw)
        raw = changed if changed is not None else b""
    answers.unfinished()
    if not raw:
        return web.Response(status=upstream.status, headers=out_headers)
    return web.Response(status=upstream.status, body=raw, headers=out_headers,
                        content_type=ctype or "application/octet-stream")


async def _read_capped(upstream: aiohttp.ClientResponse, max_bytes: int, server: str) -> bytes:
    chunks, size = [], 0
    async for chunk in upstream.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            raise MessageError(UPSTREAM_ERROR, f"MCP server {server!r} answered with more than {max_bytes} "
                               "bytes (mcp.max_upstream_message_bytes)", status=502)
        chunks.append(chunk)
    return b"".join(chunks)


async def _stream(request: web.Request, upstream: aiohttp.ClientResponse, answers: Answers,
                  out_headers: dict[str, str], max_bytes: int) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, headers={
        **out_headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    splitter = EventSplitter(max_bytes)
    try:
        async for chunk in upstream.content.iter_any():
            out = []
            for event in splitter.feed(chunk):
                data = data_of(event)
                if data is None or not data.strip():
                    out.append(event + b"\n\n")          # comments, priming events, retry hints
                    continue
                changed = answers.transform(data)
                if changed is None:
                    continue
                out.append(event + b"\n\n" if changed is data else with_data(event, changed))
            if out:
                await response.write(b"".join(out))
    except EventTooLarge as exc:
        await response.write(b"event: message\ndata: " + error_body(answers.call_id, INTERNAL_ERROR, str(exc))
                             + b"\n\n")
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError):
        pass                                             # the upstream went away: end the client's stream too
    finally:
        answers.unfinished()
    await response.write_eof()
    return response
