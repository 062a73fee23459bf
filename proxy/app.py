"""Building the aiohttp application from settings and plugins."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator

import aiohttp
import pluggy
from aiohttp import web

from proxy.config import Settings
from proxy.edge import request_ids
from proxy.gateway import Gateway
from proxy.pipeline import handle
from proxy.plugins import make_plugin_manager

log = logging.getLogger("relaygate")

GATEWAY = web.AppKey("gateway", Gateway)


def make_app(settings: Settings, pm: pluggy.PluginManager | None = None) -> web.Application:
    pm = pm or make_plugin_manager(settings.plugins)
    gateway = Gateway(settings, pm)
    app = web.Application(client_max_size=settings.server.max_body_bytes, middlewares=[request_ids(gateway)])
    app[GATEWAY] = gateway
    for sroute in gateway.routes.surfaces:
        app.router.add_route(sroute.method, sroute.path, functools.partial(handle, gateway, sroute))
    for method, path, handler in gateway.routes.plain:
        app.router.add_route(method, path, handler)
    app.cleanup_ctx.append(functools.partial(_lifespan, gateway))
    return app


async def _lifespan(gateway: Gateway, app: web.Application) -> AsyncIterator[None]:
    """Owns the shared upstream ClientSession and the plugins' resources."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
    gateway.session = aiohttp.ClientSession(connector=connector)
    try:
        await gateway.hooks.startup(gateway)
        await gateway.hooks.config_loaded(gateway)
        gateway.ready = True
        yield
    finally:
        gateway.ready = False
        await gateway.hooks.shutdown(gateway)
        for provider in gateway.runtime.providers.values():
            await provider.close()
        await gateway.session.close()
