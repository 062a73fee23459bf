"""The native Gemini surface: ``/gemini/v1beta/...`` and ``/gemini/v1/...`` (google-genai 3.x defaults to v1).

``POST /gemini/{v}/models/{endpoint}:{method}``: the gateway endpoint is the
path between ``models/`` and the method, and may hold ``/``
(``gemini/gemini-2.5-flash`` in zero-config mode). A model id may also come
without ``models/`` (``/gemini/v1beta/gemini/gemini-2.5-flash:generateContent``),
as the Google SDKs send it. Streaming is the method
(``streamGenerateContent``), never a header; ``alt=sse`` is kept for the
provider, without it the JSON-array stream passes through as it arrives.
Other query parameters are ignored (``?key=`` is accepted as the gateway key
by the auth plugin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from plugins.models.listing import callable_models
from proxy import hookimpl
from proxy.errors import GatewayError, UnknownEndpoint
from proxy.gateway import Gateway
from proxy.pipeline import error_response, new_context, require_principal
from proxy.surfaces import Handler, Resolved, RouteTable, SurfaceRoute

if TYPE_CHECKING:
    from proxy.context import RequestContext

SURFACE = "gemini"
BASE = "/gemini/{version:v1beta|v1}"

#: method -> (wire API, streams?, endpoint task the method needs; None: any)
METHODS: dict[str, tuple[str, bool, str | None]] = {
    "generateContent": ("gemini.generate", False, "chat"),
    "streamGenerateContent": ("gemini.generate", True, "chat"),
    "countTokens": ("gemini.count_tokens", False, None),
    "embedContent": ("gemini.embed", False, "embeddings"),
    "batchEmbedContents": ("gemini.batch_embed", False, "embeddings"),
}


def resolver(api: str, stream: bool) -> Callable[[RequestContext, Gateway], Resolved]:
    def resolve(ctx: RequestContext, gateway: Gateway) -> Resolved:
        if stream:
            # For the provider: "sse" asks for SSE; anything else means the JSON-array stream.
            ctx.path_params["alt"] = ctx.request.query.get("alt", "")
        return Resolved(api, ctx.request.match_info["endpoint"], stream)
    return resolve


def _json(body: object, request_id: str) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json",
                        headers={"x-request-id": request_id})


def model_info(name: str) -> dict[str, object]:
    return {"name": f"models/{name}", "baseModelId": name, "version": "relaygate", "displayName": name,
            "supportedGenerationMethods": list(METHODS)}


def models_handler(gateway: Gateway) -> Handler:
    """``GET /gemini/{v}/models[/{endpoint}]``: the ids this key may call, in Gemini's shapes."""

    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, "gemini.generate", SURFACE)
        try:
            await require_principal(gateway, ctx)
            assert ctx.principal is not None
            wanted = request.match_info.get("endpoint")
            if wanted is not None:
                endpoint, _ = gateway.runtime.find_endpoint(wanted, ctx.principal)
                if not ctx.principal.may_call(endpoint.name):
                    raise UnknownEndpoint(f"endpoint {wanted!r} does not exist", param="model")
                return _json(model_info(wanted), ctx.request_id)
        except GatewayError as err:
            return error_response(ctx, err)
        names = await callable_models(gateway, ctx.principal)
        return _json({"models": [model_info(n) for n in names]}, ctx.request_id)

    return handler


def unknown_method(gateway: Gateway) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, "gemini.generate", SURFACE)
        tail = request.match_info["tail"]
        method = tail.rpartition(":")[2] if ":" in tail else ""
        return error_response(ctx, UnknownEndpoint(
            f"unknown Gemini method {method!r}: the gateway serves {', '.join(METHODS)}"))
    return handler


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    for method, (api, stream, task) in METHODS.items():
        # The greedy pattern backtracks to the last ":<method>", so endpoints may hold "/" and ":".
        routes.surface(SurfaceRoute("POST", f"{BASE}/models/{{endpoint:.+}}:{method}", api, SURFACE,
                                    strict=False, task=task, resolve=resolver(api, stream)))
    handler = models_handler(gateway)
    routes.add("GET", f"{BASE}/models", handler)
    routes.add("GET", f"{BASE}/models/{{endpoint:.+}}", handler)
    routes.add("POST", f"{BASE}/models/{{tail:.+}}", unknown_method(gateway))
    # The Google SDKs put a model id holding "/" in the path as it is, without "models/"
    # (@ai-sdk/google: gemini/gemini-2.5-flash -> /v1beta/gemini/gemini-2.5-flash:generateContent).
    for method, (api, stream, task) in METHODS.items():
        routes.surface(SurfaceRoute("POST", f"{BASE}/{{endpoint:.+}}:{method}", api, SURFACE,
                                    strict=False, task=task, resolve=resolver(api, stream)))
