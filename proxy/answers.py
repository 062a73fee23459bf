"""Answers the gateway already holds: a plugin (the response cache) may answer a request before
any provider is called, with the bytes a provider's answer was sent to a client as.

The answer is replayed as it was stored, in the client's own format: a JSON body, or the
client's stream (SSE events, or Gemini's JSON array) written event by event with the same
framing. It is recorded as one ledger row marked ``cache_hit`` (no provider cost; the pricing
plugin records what it would have cost as ``saved_cost_usd``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from proxy.upstream import Attempt, make_record, response_headers
from proxy.usage import Usage

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route
    from proxy.gateway import Gateway

_SSE = "text/event-stream; charset=utf-8"
_JSON = "application/json"


@dataclass(slots=True)
class StoredAnswer:
    """A whole answer as its client was sent it, and the provider usage it took to make."""

    body: bytes
    stream: bool
    json_array: bool = False            # a Gemini stream without alt=sse
    usage: Usage = field(default_factory=Usage)
    headers: dict[str, str] = field(default_factory=dict)   # e.g. x-relaygate-cache: hit


def events(body: bytes) -> list[bytes]:
    """An SSE body cut after each event's blank line (the framing is kept byte for byte)."""
    out, start = [], 0
    while (end := body.find(b"\n\n", start)) != -1:
        out.append(body[start:end + 2])
        start = end + 2
    if start < len(body):
        out.append(body[start:])
    return out


async def replay(gateway: Gateway, ctx: RequestContext, route: Route, stored: StoredAnswer) -> web.StreamResponse:
    """Answer *ctx* with *stored*, and record it as a cache hit."""
    att = Attempt(1, route, status=200, usage=stored.usage, outcome="complete", ttft=0.0)
    headers = {**response_headers(ctx, route), **stored.headers}
    try:
        if not stored.stream:
            return web.Response(body=stored.body, status=200, content_type=_JSON, headers=headers)
        out = web.StreamResponse(status=200, headers={
            **headers, "Content-Type": _JSON + "; charset=utf-8" if stored.json_array else _SSE,
            "Cache-Control": "no-cache"})
        ctx.committed = True
        await out.prepare(ctx.request)
        for chunk in [stored.body] if stored.json_array else events(stored.body):
            await out.write(chunk)
        await out.write_eof()
        return out
    finally:
        record = make_record(ctx, route, att)
        record.cache_hit = True
        record.upstream_s = 0.0
        await gateway.hooks.record_usage(ctx, record)
