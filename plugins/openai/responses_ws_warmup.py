"""A WebSocket warm-up: ``response.create`` with ``generate: false``, answered by the gateway.

Codex opens its socket with one (its prewarm): the request as it will be, asking the server
to get ready without generating anything. No provider has an equivalent over HTTP (OpenAI's
HTTP API does not take ``generate``), and forwarding it would generate, and bill, a whole
answer nobody reads. So the gateway checks it as it checks a request (the key, its scope for
the model, the Responses validation) and answers an empty completed response: ``created``,
``in_progress``, ``completed``, no output, zero usage, no provider call and no ledger row. Its
id joins the socket's chain like any response, so the next turn may continue from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.openai.responses_stream import response_object
from plugins.translate.pivot import new_id, now
from proxy.errors import PermissionDenied, RequestRejected
from proxy.pipeline import new_context, require_principal

if TYPE_CHECKING:
    from aiohttp import web

    from proxy.gateway import Gateway
    from proxy.surfaces import SurfaceRoute

ZERO_USAGE = {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
              "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0}


def is_warmup(body: dict[str, Any]) -> bool:
    return body.get("generate") is False


async def warmup_events(gateway: Gateway, sroute: SurfaceRoute, request: web.Request,
                        body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an empty response to *body*; GatewayError when the request would be refused."""
    ctx = new_context(gateway, request, sroute.api, sroute.surface)
    await require_principal(gateway, ctx)
    assert ctx.principal is not None
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestRejected("'model' is required: name the gateway endpoint to call", param="model")
    runtime = gateway.runtime
    endpoint, _ = runtime.find_endpoint(runtime.resolve_name(model, sroute.surface), ctx.principal)
    if not ctx.principal.may_call(endpoint.name):
        raise PermissionDenied(f"this key may not call endpoint {model!r}", param="model")
    request_body = {k: v for k, v in body.items() if k != "generate"}
    gateway.apis.get(sroute.api).validate(request_body, strict=sroute.strict)
    rid, created = new_id("resp_"), now()
    pending = response_object(rid, created, model, request_body, "in_progress", [], None)
    done = response_object(rid, created, model, request_body, "completed", [], ZERO_USAGE)
    return [{"type": "response.created", "sequence_number": 0, "response": pending},
            {"type": "response.in_progress", "sequence_number": 1, "response": pending},
            {"type": "response.completed", "sequence_number": 2, "response": done}]
