"""The web console under ``/console`` (plugin ``plugins.console.routes``).

Server-rendered pages, no script at all; every response carries a strict Content-Security-Policy
(nothing inline, nothing from elsewhere), ``X-Frame-Options: DENY`` and ``no-store``. A session
cookie (plugins/console/session.py) is set by signing in with the admin token or single sign-on;
every POST checks its CSRF token and, when the browser sends one, its ``Origin``. Links follow
``console.base_path`` or the reverse proxy's ``X-Forwarded-Prefix``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from plugins.admin.actors import Actor, admin_token, enabled
from plugins.admin.audit_api import export, read_audit
from plugins.admin.key_actions import create_key, revoke_key
from plugins.audit.log import record
from plugins.audit.store import AuditEntry
from plugins.console import session as sessions
from plugins.console import signin, views
from plugins.console.config import ConsoleConfig
from plugins.console.html import Page, layout
from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.sections import Spec
    from proxy.surfaces import RouteTable

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
CSS = (Path(__file__).with_name("console.css")).read_bytes()
View = Callable[["Gateway", web.Request, Page], Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def base_path(gateway: Gateway, request: web.Request) -> str:
    configured = gateway.settings.section(ConsoleConfig).base_path
    if configured is not None:
        return configured.rstrip("/")
    forwarded = request.headers.get("X-Forwarded-Prefix", "").rstrip("/")
    return forwarded if _PREFIX.match(forwarded) else ""


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    h = response.headers
    h["Content-Security-Policy"] = CSP
    h["X-Frame-Options"] = "DENY"
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "same-origin"
    h.setdefault("Cache-Control", "no-store")
    return response


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8", status=status)


def _key(gateway: Gateway) -> bytes:
    secret = gateway.settings.section(ConsoleConfig).session_secret
    return sessions.signing_key(secret.get_secret_value() if secret else None, admin_token(gateway))


def _origin_ok(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True                              # not every browser sends it; the CSRF token still must match
    host = request.headers.get("X-Forwarded-Host", request.host)
    return origin.split("://", 1)[-1] == host


def register(routes: RouteTable, gateway: Gateway) -> None:
    def page_of(request: web.Request, s: sessions.Session | None) -> Page:
        base = base_path(gateway, request)
        return Page(base, s.actor.name if s else "", s.actor.role if s else "", s.csrf if s else "")

    def sign_in(request: web.Request, actor: Actor, page: Page) -> web.Response:
        cfg = gateway.settings.section(ConsoleConfig)
        cookie, _ = sessions.issue(actor, _key(gateway), cfg.session_minutes)
        response = web.Response(status=303, headers={"Location": page.href()})
        response.set_cookie(sessions.COOKIE, cookie, httponly=True, samesite="Lax", path=page.href(),
                            max_age=cfg.session_minutes * 60,
                            secure=request.headers.get("X-Forwarded-Proto", request.scheme) == "https")
        return response

    def guarded(handler: Callable[[web.Request, Page, sessions.Session | None], Awaitable[web.StreamResponse]],
                *, public: bool = False, changes: bool = False) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            if not enabled(gateway) or not gateway.settings.section(ConsoleConfig).enabled:
                raise web.HTTPNotFound()
            s = sessions.read(request.cookies.get(sessions.COOKIE), _key(gateway))
            page = page_of(request, s)
            try:
                if request.method == "POST":
                    form = await request.post()
                    # before sign-in the token is the login form's own (a pre-session cookie is not needed:
                    # the login form posts a secret the attacker does not have)
                    token = str(form.get("csrf", ""))
                    if not _origin_ok(request) or (s is not None and not sessions.csrf_ok(s, token)):
                        return _secure(_html(layout(page, "Refused", "<p>The form's CSRF token or origin does not "
                                                                     "match this session. Reload the page.</p>"), 403))
                if not public and s is None:
                    raise web.HTTPSeeOther(page.href("login"))
                if changes and (s is None or s.actor.role != "admin"):
                    return _secure(_html(layout(page, "Not allowed", "<p>Your role may only look.</p>"), 403))
                return _secure(await handler(request, page, s))
            except web.HTTPException as exc:
                _secure(exc)
                raise

        return wrapper

    def view(fn: View) -> Handler:
        async def handler(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
            return _html(await fn(gateway, request, page))
        return guarded(handler)

    async def login_form(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        return _html(signin.login_page(gateway, page))

    async def login(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        form = await request.post()
        actor = signin.token_login(gateway, str(form.get("token", "")))
        if actor is None:
            return _html(signin.login_page(gateway, page, "That is not the admin token."), 401)
        await record(gateway, AuditEntry(actor.name, actor.kind, "console.login", "", {}))
        return sign_in(request, actor, page)

    async def sso_start(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        return await signin.start_sso(gateway, request, page)

    async def sso_callback(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        result = await signin.finish_sso(gateway, request, page)
        if isinstance(result, str):
            return _html(signin.login_page(gateway, page, result), 401)
        await record(gateway, AuditEntry(result.name, result.kind, "console.login", "", {"via": "sso"}))
        response = sign_in(request, result, page)
        response.del_cookie(signin.FLOW_COOKIE, path=page.href())
        return response

    async def logout(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": page.href("login")})
        response.del_cookie(sessions.COOKIE, path=page.href())
        return response

    async def keys(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        return _html(layout(page, "Keys", views.keys_body(gateway, page), current="keys"))

    async def create(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        assert s is not None
        form = await request.post()
        text = {k: str(v).strip() for k, v in form.items() if k != "csrf"}
        body: dict[str, object] = {k: text[k] for k in ("name", "owner", "team") if text.get(k)}
        if text.get("endpoints"):
            body["endpoints"] = [e.strip() for e in text["endpoints"].split(",") if e.strip()]
        try:
            if text.get("expires_days"):
                body["expires_in"] = f"{int(text['expires_days'])}d"
            created = await create_key(gateway, s.actor, body)
        except ValueError as exc:
            return _html(layout(page, "Keys", views.keys_body(gateway, page, problem=str(exc)), current="keys"), 400)
        return _html(layout(page, "Keys", views.keys_body(gateway, page, created), current="keys"), 201)

    async def revoke(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        assert s is not None
        await revoke_key(gateway, s.actor, request.match_info["id"])
        raise web.HTTPSeeOther(page.href("keys"))

    async def audit_export(request: web.Request, page: Page, s: sessions.Session | None) -> web.StreamResponse:
        fmt = request.query.get("format", "jsonl")
        return export(await read_audit(gateway, limit=100_000), fmt if fmt in ("jsonl", "csv", "json") else "jsonl")

    async def css(request: web.Request) -> web.StreamResponse:
        return _secure(web.Response(body=CSS, content_type="text/css", headers={"Cache-Control": "max-age=300"}))

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(base_path(gateway, request) + "/console/")

    add = routes.add
    add("GET", "/console", root)
    add("GET", "/console/static/console.css", css)
    add("GET", "/console/login", guarded(login_form, public=True))
    add("POST", "/console/login", guarded(login, public=True))
    add("GET", "/console/auth/sso", guarded(sso_start, public=True))
    add("GET", "/console/auth/callback", guarded(sso_callback, public=True))
    add("POST", "/console/logout", guarded(logout))
    add("GET", "/console/", view(views.usage))
    add("GET", "/console/keys", guarded(keys))
    add("POST", "/console/keys", guarded(create, changes=True))
    add("POST", "/console/keys/{id}/revoke", guarded(revoke, changes=True))
    add("GET", "/console/budgets", view(views.budgets))
    add("GET", "/console/requests", view(views.requests))
    add("GET", "/console/health", view(views.health))
    add("GET", "/console/audit", view(views.audit))
    add("GET", "/console/audit/export", guarded(audit_export))


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"console": ConsoleConfig}


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    register(routes, gateway)
