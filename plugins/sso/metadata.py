"""``GET /auth/v1/sso``: what ``relaygate login`` needs to sign a developer in (public, no secret):
each issuer's name, URL, public client id and the audiences the gateway accepts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from plugins.sso.config import JwtConfig
from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.surfaces import RouteTable


def public_issuers(gateway: Gateway) -> list[dict[str, object]]:
    return [{"name": i.name, "issuer": i.issuer, "client_id": i.client_id, "audiences": i.audiences,
             "device_authorization_endpoint": str(i.device_authorization_url or "") or None,
             "token_endpoint": str(i.token_url or "") or None}
            for i in gateway.settings.section(JwtConfig).issuers if i.client_id]


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    async def sso(request: web.Request) -> web.Response:
        return web.json_response({"issuers": public_issuers(gateway)})

    routes.add("GET", "/auth/v1/sso", sso)
