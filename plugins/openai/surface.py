"""The native OpenAI surface under ``/openai/v1``: full-fidelity passthrough.

``/responses`` (the Responses API, which Codex and the openai SDK use; a GET upgrades it to
WebSocket mode, plugins/openai/responses_ws.py) and ``/responses/compact``, also served under
``/v1`` beside the unified surface's chat completions, so a client whose base URL is ``/v1`` reaches Responses too;
``/chat/completions`` with OpenAI's own validation rules (``strict=False``:
not the reference's extra ones), ``/embeddings``, ``/completions`` and
``GET /models``. ``model`` names the gateway endpoint. Any other path under
``/openai/`` answers 404 in OpenAI's error shape, so SDKs show a real message.
"""

from __future__ import annotations

from aiohttp import web

from plugins.openai.responses_ws import websocket_route
from plugins.unified.surface import models_handler
from proxy import hookimpl
from proxy.errors import UnknownEndpoint
from proxy.gateway import Gateway
from proxy.pipeline import error_response, new_context
from proxy.surfaces import Handler, RouteTable, SurfaceRoute

PREFIX = "/openai/v1"
SURFACE = "openai"
#: (prefix, metrics surface) the Responses routes are served under
RESPONSES_PREFIXES = ((PREFIX, SURFACE), ("/v1", "unified"))


def not_found_handler(gateway: Gateway) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, "openai.responses", SURFACE)
        return error_response(ctx, UnknownEndpoint(
            f"no such API route: {request.method} {request.path}", type="not_found_error"))
    return handler


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    for prefix, surface in RESPONSES_PREFIXES:
        responses = SurfaceRoute("POST", f"{prefix}/responses", "openai.responses", surface)
        routes.surface(responses)
        routes.add("GET", f"{prefix}/responses", websocket_route(gateway, responses))   # WebSocket mode
        routes.surface(SurfaceRoute("POST", f"{prefix}/responses/compact", "openai.responses.compact", surface))
    routes.surface(SurfaceRoute("POST", f"{PREFIX}/chat/completions", "openai.chat", SURFACE, strict=False))
    routes.surface(SurfaceRoute("POST", f"{PREFIX}/embeddings", "openai.embeddings", SURFACE, strict=False))
    routes.surface(SurfaceRoute("POST", f"{PREFIX}/completions", "openai.completions", SURFACE, strict=False))
    routes.add("GET", f"{PREFIX}/models", models_handler(gateway, "openai.responses", SURFACE))
    routes.add("*", "/openai/{tail:.*}", not_found_handler(gateway))
