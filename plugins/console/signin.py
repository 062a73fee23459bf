"""Signing in to the console: with the admin token, or with single sign-on (authorization code
with PKCE against the configured issuer, redirected back to ``/console/auth/callback``)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from plugins.admin.actors import Actor, is_admin_token, person_actor, token_actor
from plugins.console.config import ConsoleConfig
from plugins.console.html import Page, esc, layout, notice
from plugins.sso.auth import SSO_SESSION, identify, issuer_keys
from plugins.sso.jwks import IssuerKeys, KeysUnavailable
from plugins.sso.tokens import TokenRefused

if TYPE_CHECKING:
    from proxy.gateway import Gateway

FLOW_COOKIE = "relaygate_console_sso"


def sso_issuer(gateway: Gateway) -> IssuerKeys | None:
    wanted = gateway.settings.section(ConsoleConfig).sso_issuer
    for keys in issuer_keys(gateway).values():
        if keys.cfg.client_id and (wanted is None or keys.cfg.name == wanted):
            return keys
    return None


def login_page(gateway: Gateway, page: Page, problem: str = "") -> str:
    body = notice(problem, "error") if problem else ""
    issuer = sso_issuer(gateway)
    if issuer is not None:
        body += (f'<p><a class="button" href="{esc(page.href("auth/sso"))}">Sign in with '
                 f'{esc(issuer.cfg.name)}</a></p><p>or</p>')
    body += page.form("login", '<label>Admin token <input type="password" name="token" autocomplete="off" '
                               'required></label>', button="Sign in", css="login")
    return layout(page, "Sign in", body)


def token_login(gateway: Gateway, token: str) -> Actor | None:
    return token_actor() if is_admin_token(gateway, token) else None


def _callback_url(request: web.Request, page: Page) -> str:
    proto = request.headers.get("X-Forwarded-Proto", request.scheme)
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{proto}://{host}{page.href('auth/callback')}"


async def start_sso(gateway: Gateway, request: web.Request, page: Page) -> web.StreamResponse:
    issuer = sso_issuer(gateway)
    if issuer is None:
        raise web.HTTPNotFound(text="no single sign-on issuer is configured for the console")
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    try:
        url = await issuer.endpoint("authorization_endpoint", issuer.cfg.authorization_url)
    except (KeysUnavailable, aiohttp.ClientError) as exc:
        return web.Response(text=layout(page, "Sign in", notice(f"the issuer is unreachable: {exc}", "error")),
                            content_type="text/html", status=502)
    query = urlencode({"response_type": "code", "client_id": issuer.cfg.client_id, "scope": "openid profile email",
                       "redirect_uri": _callback_url(request, page), "state": state,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    response = web.Response(status=302, headers={"Location": f"{url}?{query}"})
    response.set_cookie(FLOW_COOKIE, f"{state}.{verifier}", httponly=True, samesite="Lax", max_age=600,
                        path=page.href(), secure=request.headers.get("X-Forwarded-Proto", request.scheme) == "https")
    return response


async def finish_sso(gateway: Gateway, request: web.Request, page: Page) -> Actor | str:
    """The signed-in person's actor, or why not."""
    issuer = sso_issuer(gateway)
    flow = request.cookies.get(FLOW_COOKIE, "")
    state, _, verifier = flow.partition(".")
    if issuer is None or not state or request.query.get("state") != state or not request.query.get("code"):
        return "the sign-in did not come back as it left (start again)"
    session = gateway.stash[SSO_SESSION]
    try:
        url = await issuer.endpoint("token_endpoint", issuer.cfg.token_url)
        async with session.post(url, data={"grant_type": "authorization_code", "code": request.query["code"],
                                           "redirect_uri": _callback_url(request, page),
                                           "client_id": issuer.cfg.client_id, "code_verifier": verifier},
                                timeout=aiohttp.ClientTimeout(total=10)) as r:
            tokens = await r.json(content_type=None)
            if r.status != 200:
                return f"the issuer refused the sign-in: {tokens.get('error', r.status)}"
    except (KeysUnavailable, aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return f"the issuer is unreachable: {exc}"
    try:
        principal = await identify(gateway, str(tokens.get("access_token", "")))
    except TokenRefused as exc:
        return f"the issuer's token was refused: {exc}"
    actor = person_actor(gateway, principal)
    if actor is None:
        return f"{principal.owner} is in none of the console's groups (admin.sso_admin_groups, sso_viewer_groups)"
    return actor
