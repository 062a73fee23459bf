"""Token counts for endpoints whose provider has no counting API: a clearly marked estimate.

``count_tokens`` / ``countTokens`` on, say, an OpenAI-compatible model cannot
be exact; rather than a 400 or a silent guess, the gateway answers locally
(no provider call, so no ledger row) with ``x-relaygate-token-count: estimate``.
The estimate is the JSON size of what the model would read, at ~4 bytes a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route

#: served without calling the provider (see proxy.upstream.forward)
local = True
BYTES_PER_TOKEN = 4
_COUNTED = ("system", "messages", "tools", "contents", "systemInstruction", "generateContentRequest")


def estimate_tokens(body: dict[str, Any]) -> int:
    parts = {k: body[k] for k in _COUNTED if k in body}
    return max(1, -(-len(orjson.dumps(parts)) // BYTES_PER_TOKEN))


def answer(ctx: RequestContext, route: Route) -> web.Response:
    n = estimate_tokens(ctx.body or {})
    body = {"totalTokens": n} if ctx.api.id.startswith("gemini.") else {"input_tokens": n}
    return web.Response(body=orjson.dumps(body), content_type="application/json",
                        headers={"x-request-id": ctx.request_id, "x-relaygate-token-count": "estimate",
                                 "x-relaygate-served-model": route.served.name})
