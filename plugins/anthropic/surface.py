"""The native Anthropic surface under ``/anthropic``: what the Anthropic SDKs and Claude Code call.

``ANTHROPIC_BASE_URL=<gateway>/anthropic``; ``model`` names the gateway
endpoint. Streaming follows ``body.stream`` only (Claude Code sends
``Accept: application/json`` on streaming calls); query parameters such as
Claude Code's ``?beta=true`` are ignored. The stream passes through byte for
byte, ``event:`` lines included.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from plugins.models.listing import callable_models
from proxy import hookimpl
from proxy.errors import GatewayError, UnknownEndpoint
from proxy.gateway import Gateway
from proxy.pipeline import error_response, new_context, require_principal
from proxy.surfaces import Handler, RouteTable, SurfaceRoute

PREFIX = "/anthropic"
SURFACE = "anthropic"
EPOCH = "1970-01-01T00:00:00Z"


def model_info(name: str) -> dict[str, object]:
    return {"type": "model", "id": name, "display_name": name, "created_at": EPOCH,
            "capabilities": None, "max_input_tokens": None, "max_tokens": None}


def _json(body: object, request_id: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                        headers={"x-request-id": request_id})


def models_handler(gateway: Gateway) -> Handler:
    """``GET /anthropic/v1/models[/{model_id}]`` in Anthropic's list and object shapes."""

    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, "anthropic.messages", SURFACE)
        try:
            await require_principal(gateway, ctx)
            assert ctx.principal is not None
            wanted = request.match_info.get("model_id")
            if wanted is not None:
                endpoint, _ = gateway.runtime.find_endpoint(wanted, ctx.principal)      # UnknownEndpoint: 404
                if not ctx.principal.may_call(endpoint.name):
                    raise UnknownEndpoint(f"endpoint {wanted!r} does not exist", param="model")
                return _json(model_info(wanted), ctx.request_id)
            names = await callable_models(gateway, ctx.principal)
        except GatewayError as err:
            return error_response(ctx, err)
        data = [model_info(n) for n in names]
        return _json({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                      "last_id": data[-1]["id"] if data else None}, ctx.request_id)

    return handler


async def probe(request: web.Request) -> web.Response:
    """Claude Code's ``HEAD /anthropic`` connectivity probe: answer at once, no auth needed."""
    if request.method == "HEAD":
        return web.Response(status=200)
    return web.json_response({"surface": SURFACE, "status": "ok"})


def unknown_path(gateway: Gateway) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, "anthropic.messages", SURFACE)
        return error_response(ctx, UnknownEndpoint(f"{request.method} {request.path} is not an Anthropic API "
                                                   f"path this gateway serves"))
    return handler


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    routes.surface(SurfaceRoute("POST", f"{PREFIX}/v1/messages", "anthropic.messages", SURFACE,
                                strict=False, task="chat"))
    routes.surface(SurfaceRoute("POST", f"{PREFIX}/v1/messages/count_tokens", "anthropic.count_tokens",
                                SURFACE, strict=False, task="chat"))
    handler = models_handler(gateway)
    routes.add("GET", f"{PREFIX}/v1/models", handler)
    routes.add("GET", f"{PREFIX}/v1/models/{{model_id:.+}}", handler)
    for method in ("HEAD", "GET"):
        routes.add(method, PREFIX, probe)
        routes.add(method, PREFIX + "/", probe)
    routes.add("*", f"{PREFIX}/{{tail:.+}}", unknown_path(gateway))     # last: 404 in Anthropic's shape
