"""``/healthz`` (the process is alive) and ``/readyz`` (config loaded, storage reachable)."""

from __future__ import annotations

import inspect

import orjson
from aiohttp import web

from proxy import hookimpl
from proxy.gateway import HEALTH_CHECKS, Gateway
from proxy.surfaces import RouteTable


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        checks: dict[str, bool] = {"config": gateway.ready and not gateway.draining}
        for name, check in gateway.stash.get(HEALTH_CHECKS, {}).items():
            try:
                result = check()
                checks[name] = bool(await result if inspect.isawaitable(result) else result)
            except Exception:
                checks[name] = False
        ok = all(checks.values())
        return web.Response(status=200 if ok else 503, content_type="application/json",
                            body=orjson.dumps({"status": "ready" if ok else "not ready", "checks": checks}))

    routes.add("GET", "/healthz", healthz)
    routes.add("GET", "/readyz", readyz)
