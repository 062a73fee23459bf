"""The unified, OpenAI-compatible surface: one API for every provider.

Served under ``/mlflow/v1``, ``/v1`` and ``/serving-endpoints`` so a stock
OpenAI client works with any of those base URLs: chat completions,
completions and embeddings. ``model`` names the gateway endpoint, except on
``POST /serving-endpoints/{name}/invocations``, where the path names it and
the endpoint's task picks the format.

Validation: the Databricks surfaces (``/mlflow/v1``, ``/serving-endpoints``) apply
the reference's extra rules (one system message, first; 32 tools). ``/v1`` is
where clients written against OpenAI point (aider, pydantic-ai, the SDKs), so it
takes what OpenAI takes: several system/developer messages, anywhere. A provider
with one system prompt gets them merged in order (plugins/anthropic, plugins/gemini).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from plugins.models.listing import callable_models
from proxy import hookimpl
from proxy.errors import GatewayError, PermissionDenied, RequestRejected
from proxy.gateway import Gateway
from proxy.pipeline import error_response, new_context, require_principal
from proxy.surfaces import Handler, Resolved, RouteTable, SurfaceRoute

if TYPE_CHECKING:
    from proxy.context import RequestContext

PREFIXES = ("/mlflow/v1", "/v1", "/serving-endpoints")
#: prefix -> apply the reference's extra validation rules (the Databricks surfaces) or OpenAI's own (/v1)
REFERENCE_RULES = {"/mlflow/v1": True, "/v1": False, "/serving-endpoints": True}
SURFACE = "unified"


def models_handler(gateway: Gateway, api_id: str, surface: str) -> Handler:
    """``GET .../models``: the ids this key may call (plugins/models/listing.py), in OpenAI's list shape."""

    async def handler(request: web.Request) -> web.Response:
        ctx = new_context(gateway, request, api_id, surface)
        try:
            await require_principal(gateway, ctx)
        except GatewayError as err:
            return error_response(ctx, err)
        assert ctx.principal is not None
        names = await callable_models(gateway, ctx.principal)
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "relaygate"} for n in names]
        return web.Response(body=orjson.dumps({"object": "list", "data": data}),
                            content_type="application/json", headers={"x-request-id": ctx.request_id})

    return handler


#: endpoint task -> (wire API, the body field that marks its shape)
TASK_APIS = {"chat": ("openai.chat", "messages"), "completions": ("openai.completions", "prompt"),
             "embeddings": ("openai.embeddings", "input")}


def task_of_body(body: dict[str, Any]) -> str | None:
    """Infer the task from the body's shape: messages, prompt or input."""
    found = [task for task, (_, marker) in TASK_APIS.items() if marker in body]
    return found[0] if len(found) == 1 else None


def resolve_invocation(ctx: RequestContext, gateway: Gateway) -> Resolved:
    """``/serving-endpoints/{name}/invocations``: the endpoint is in the path and
    its configured task decides the wire API ("any": the body's shape does)."""
    name = ctx.path_params["name"]
    # An alias names an endpoint here as in a body's "model" (the pipeline resolves it again, the same way).
    endpoint, _ = gateway.runtime.find_endpoint(gateway.runtime.resolve_name(name, ctx.surface), ctx.principal)
    if ctx.principal is not None and not ctx.principal.may_call(endpoint.name):
        # before anything about the endpoint (its task) goes into an answer
        raise PermissionDenied(f"this key may not call endpoint {name!r}", param="model")
    body = ctx.body or {}
    shape = task_of_body(body)
    task = shape if endpoint.task == "any" else endpoint.task
    if task is None:
        raise RequestRejected("cannot tell the task from the body: give exactly one of 'messages' (chat), "
                              "'prompt' (completions) or 'input' (embeddings)", param="messages")
    api_id, marker = TASK_APIS[task]
    if shape != task:
        raise RequestRejected(f"endpoint {name!r} serves task {task!r}: the body needs {marker!r}"
                              + (f", not the {TASK_APIS[shape][1]!r} of a {shape} request" if shape else ""),
                              param=marker)
    api = gateway.apis.get(api_id)
    return Resolved(api_id, name, api.is_stream(body))


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    for prefix in PREFIXES:
        strict = REFERENCE_RULES[prefix]
        routes.surface(SurfaceRoute("POST", f"{prefix}/chat/completions", "openai.chat", SURFACE, strict=strict,
                                    task="chat"))
        routes.surface(SurfaceRoute("POST", f"{prefix}/completions", "openai.completions", SURFACE, strict=strict,
                                    task="completions"))
        routes.surface(SurfaceRoute("POST", f"{prefix}/embeddings", "openai.embeddings", SURFACE, strict=strict,
                                    task="embeddings"))
        routes.add("GET", f"{prefix}/models", models_handler(gateway, "openai.chat", SURFACE))
    # The name may hold "/" (wildcard endpoints such as openai/gpt-4o-mini).
    routes.surface(SurfaceRoute("POST", "/serving-endpoints/{name:.+}/invocations", "openai.chat", SURFACE,
                                resolve=resolve_invocation))
