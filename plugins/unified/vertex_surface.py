"""Vertex AI's OpenAI-compatible chat paths, so a client set up for Vertex works with the gateway as is.

Vertex's chat reference gives two base URLs (``v1`` or ``v1beta1``):

- ``.../projects/{project}/locations/{location}/endpoints/openapi``: Gemini models;
  ``model`` in the body names the gateway endpoint (``google/gemini-2.5-flash``);
- ``.../projects/{project}/locations/{location}/endpoints/{endpoint}``: a self-deployed
  model; the path names the gateway endpoint and the body may omit ``model``.

Both answer as ``POST /v1/chat/completions`` does (OpenAI's own validation, not the
reference's extra rules). ``project`` and ``location`` are not used: the gateway's
configuration decides where a request goes, never the client's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy import hookimpl
from proxy.gateway import Gateway
from proxy.surfaces import Resolved, RouteTable, SurfaceRoute, endpoint_from_model

if TYPE_CHECKING:
    from proxy.context import RequestContext

SURFACE = "vertex_openai"
PATH = "/{version:v1|v1beta1}/projects/{project}/locations/{location}/endpoints/{endpoint:.+}/chat/completions"
GEMINI_ENDPOINT = "openapi"


def resolve(ctx: RequestContext, gateway: Gateway) -> Resolved:
    endpoint = ctx.path_params["endpoint"]
    if endpoint == GEMINI_ENDPOINT:
        return endpoint_from_model(ctx, gateway)
    return Resolved(ctx.api.id, endpoint, ctx.api.is_stream(ctx.body or {}))


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    routes.surface(SurfaceRoute("POST", PATH, "openai.chat", SURFACE, strict=False, task="chat", resolve=resolve))
