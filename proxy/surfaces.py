"""API surfaces: the inbound HTTP routes and how each finds its wire API and endpoint.

A surface plugin adds :class:`SurfaceRoute` objects to the :class:`RouteTable`
in ``relaygate_register_routes``; the pipeline serves all of them. Plain
routes (health, metrics, admin) are added with :meth:`RouteTable.add`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Resolved:
    """What a surface learned from the path and body of one request."""

    api: str                 # wire API id of the request body
    endpoint: str            # gateway endpoint name
    stream: bool


def endpoint_from_model(ctx: RequestContext, gateway: Gateway) -> Resolved:
    """The unified and OpenAI-style surfaces name the endpoint in ``model``."""
    body = ctx.body or {}
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestRejected("'model' is required: name the gateway endpoint to call", param="model")
    return Resolved(ctx.api.id, model, ctx.api.is_stream(body))


@dataclass(frozen=True)
class SurfaceRoute:
    method: str
    path: str                                   # aiohttp pattern, may hold {variables}
    api: str                                    # wire API of the body (and of error bodies)
    surface: str                                # metrics label
    strict: bool = True                         # apply the reference's extra validation rules
    task: str | None = None                     # the endpoint task this route serves
    resolve: Callable[[RequestContext, Gateway], Resolved] = endpoint_from_model
    json_body: bool = True                      # parse the body as a JSON object


@dataclass
class RouteTable:
    surfaces: list[SurfaceRoute] = field(default_factory=list)
    plain: list[tuple[str, str, Handler]] = field(default_factory=list)

    def surface(self, route: SurfaceRoute) -> None:
        self.surfaces.append(route)

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.plain.append((method, path, handler))

