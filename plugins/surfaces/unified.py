"""The unified, OpenAI-compatible surface: one API for every provider.

Served under ``/mlflow/v1``, ``/v1`` and ``/serving-endpoints`` so a stock
OpenAI client works with any of those base URLs. ``model`` names the
gateway endpoint.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from proxy import hookimpl
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.pipeline import error_response, new_context, require_principal
from proxy.surfaces import RouteTable, SurfaceRoute

PREFIXES = ("/mlflow/v1", "/v1", "/serving-endpoints")
SURFACE = "unified"


def models_handler(gateway: Gateway, api_id: str, surface: str):  # type: ignore[no-untyped-def]
    """``GET .../models``: the endpoints this key may call, in OpenAI's list shape."""

    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, api_id, surface)
        try:
            await require_principal(gateway, ctx)
        except GatewayError as err:
            return error_response(ctx, err)
        assert ctx.principal is not None
        rt = gateway.runtime
        names = [n for n in rt.endpoint_names() if ctx.principal.may_call(n)]
        names += [p + "*" for p, ep in rt.wildcards if ctx.principal.may_call(ep.name)]
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "relaygate"} for n in names]
        return web.Response(body=orjson.dumps({"object": "list", "data": data}),
                            content_type="application/json", headers={"x-request-id": ctx.request_id})

    return handler


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    for prefix in PREFIXES:
        routes.surface(SurfaceRoute("POST", f"{prefix}/chat/completions", "openai.chat", SURFACE, task="chat"))
        routes.add("GET", f"{prefix}/models", models_handler(gateway, "openai.chat", SURFACE))
