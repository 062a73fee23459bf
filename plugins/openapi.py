"""``GET /openapi.json``: the gateway's own OpenAPI 3.1 document, built from what it serves.

One operation per surface route (``/v1/chat/completions``, ``/anthropic/v1/messages``,
``/gemini/v1beta/models/{endpoint}:generateContent``, ...). Its request body is
the wire format's :attr:`~proxy.apis.Api.request_schema`, the same shape the
pipeline checks, so the document cannot drift from the code; its error answers
are described from the format's own ``error_body``. Served without a key: it
says nothing about endpoints, keys or providers.

The property-based test (tests/proxy/test_fuzz_openapi.py) drives every operation
with Schemathesis against fake providers of every kind.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from proxy import __version__, hookimpl
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.surfaces import RouteTable, SurfaceRoute

_PARAM = re.compile(r"\{(\w+)(?::([^}]*))?\}")
_LITERALS = re.compile(r"[\w.-]+(?:\|[\w.-]+)*")
_STREAMS = ("openai.chat", "openai.completions", "openai.responses", "anthropic.messages")


def openapi_path(pattern: str) -> tuple[str, list[dict[str, Any]]]:
    """An aiohttp route pattern as an OpenAPI path, with its path parameters (``{version:v1beta|v1}``:
    an enum of those values)."""
    params = []
    for name, regex in _PARAM.findall(pattern):
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if regex and _LITERALS.fullmatch(regex):
            schema = {"type": "string", "enum": regex.split("|")}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", pattern), params


def shape_of(sample: Any) -> dict[str, Any]:
    """A JSON schema of *sample*'s structure (keys and types, not values)."""
    if isinstance(sample, dict):
        return {"type": "object", "required": sorted(sample),
                "properties": {k: shape_of(v) for k, v in sample.items()}}
    if isinstance(sample, bool):
        return {"type": "boolean"}
    if isinstance(sample, int):
        return {"type": "integer"}
    if isinstance(sample, str):
        return {"type": ["string", "null"]}    # message, type, param, code: null where it does not apply
    return {}                                  # null samples: any value


def error_schema(gateway: Gateway, api_id: str) -> dict[str, Any]:
    sample = gateway.apis.get(api_id).error_body(GatewayError("m", status=400, param="p", type="t"), "req_0")
    return shape_of(sample)


def _operation(gateway: Gateway, sroute: SurfaceRoute) -> tuple[str, dict[str, Any]]:
    path, params = openapi_path(sroute.path)
    api = gateway.apis.get(sroute.api)
    if path.endswith(":streamGenerateContent"):
        params.append({"name": "alt", "in": "query", "required": False, "schema": {"type": "string", "enum": ["sse"]}})
    ok: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if sroute.api in _STREAMS or path.endswith(":streamGenerateContent"):
        ok["text/event-stream"] = {"schema": {"type": "string"}}
    error = {"description": f"an error in {sroute.api}'s shape",
             "content": {"application/json": {"schema": error_schema(gateway, sroute.api)}}}
    op: dict[str, Any] = {
        "operationId": f"{sroute.surface}:{sroute.method} {path}",
        "tags": [sroute.surface],
        "summary": f"{sroute.api} ({sroute.surface} surface)",
        "parameters": params,
        "responses": {"200": {"description": "the answer, in the same wire format (or its stream)",
                              "headers": {"x-request-id": {"schema": {"type": "string"}},
                                          "x-relaygate-dropped": {"schema": {"type": "string"}}},
                              "content": ok},
                      "4XX": error, "5XX": error},
    }
    if sroute.json_body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": api.request_schema or {"type": "object"}}}}
    return path, op


def document(gateway: Gateway) -> dict[str, Any]:
    """The OpenAPI document of every surface route the gateway serves."""
    paths: dict[str, dict[str, Any]] = {}
    for sroute in gateway.routes.surfaces:
        path, op = _operation(gateway, sroute)
        paths.setdefault(path, {})[sroute.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Relaygate", "version": __version__,
                 "description": "One gateway, every surface: the model a client names is a gateway endpoint; "
                                "any surface reaches any provider."},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic"},
            "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "x-goog-api-key": {"type": "apiKey", "in": "header", "name": "x-goog-api-key"}}},
        "security": [{"bearer": []}, {"basic": []}, {"x-api-key": []}, {"x-goog-api-key": []}],
    }


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    cached: list[bytes] = []

    async def openapi(request: web.Request) -> web.Response:
        if not cached:                             # surface routes are all registered by now
            cached.append(orjson.dumps(document(gateway)))
        return web.Response(body=cached[0], content_type="application/json")

    routes.add("GET", "/openapi.json", openapi)
