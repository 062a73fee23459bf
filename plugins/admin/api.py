"""The admin API under ``/admin/v1``: key lifecycle and usage reports.

Guarded by its own token (``admin.token`` or ``RELAYGATE_ADMIN_TOKEN``), sent
as ``Authorization: Bearer <token>`` and compared in constant time. Gateway
keys never work here. Without a configured token every admin path is 404,
so an unconfigured gateway does not even reveal that the API exists.

    POST  /admin/v1/keys                  create; the answer holds the secret, once
    GET   /admin/v1/keys                  list (?owner= &team= &status=active|revoked|expired)
                                          both answers carry ``warnings``: limit rules naming a key
                                          that does not exist (yet)
    GET   /admin/v1/keys/{id}             one key
    POST  /admin/v1/keys/{id}/revoke      revoke now
    POST  /admin/v1/keys/{id}/expire      expire now, or at {"expires_at": ISO}; PATCH works too
    GET   /admin/v1/usage                 ?by=key|owner|team|endpoint|served_model|provider|day[,...]
                                          &since=ISO &until=ISO &format=json|csv|table
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from plugins.admin.actors import Actor, enabled, is_admin_token, person_actor, token_actor
from plugins.admin.config import AdminConfig
from plugins.admin.key_actions import create_key, revoke_key
from plugins.audit.log import record
from plugins.audit.store import AuditEntry
from plugins.keystore.auth import KEY_CACHE, key_cache
from plugins.keystore.validation import expiry_from
from plugins.limits.config import LimitsConfig
from plugins.limits.subjects import config_key_names, unknown_key_warnings
from plugins.metering.ledger import LEDGER
from plugins.reports.usage import ReportQuery, render, usage_report
from plugins.sso.auth import identify, issuer_keys
from plugins.sso.tokens import TokenRefused
from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.sections import Spec
    from proxy.surfaces import RouteTable

log = logging.getLogger("relaygate.admin")
PREFIX = "/admin/v1"
CREATE_FIELDS = {"name", "owner", "owner_kind", "team", "tags", "endpoints", "expires_at", "expires_in"}
MAX_BODY_BYTES = 64 * 1024


class AdminError(Exception):
    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def error(status: int, type_: str, message: str) -> web.Response:
    return json_response({"error": {"type": type_, "message": message}}, status)


def _presented(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: request-scoped: the :class:`~plugins.admin.actors.Actor` the guard let in
ACTOR = "relaygate.admin_actor"


async def actor_of(gateway: Gateway, presented: str) -> Actor | None:
    """The admin token, or a signed-in person with a role; None for anything else."""
    if is_admin_token(gateway, presented):
        return token_actor()
    if presented and issuer_keys(gateway):
        try:
            return person_actor(gateway, await identify(gateway, presented))
        except TokenRefused:
            return None
    return None


def guarded(gateway: Gateway, handler: Handler, *, changes: bool = True) -> Handler:
    """Only the admin token or a signed-in admin (a viewer too when not *changes*) reach *handler*."""
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not enabled(gateway):
            return error(404, "not_found_error", "not found")
        actor = await actor_of(gateway, _presented(request))
        if actor is None:
            return error(401, "authentication_error",
                         "the admin API needs the admin token (Authorization: Bearer <admin token>) or the "
                         "single sign-on token of an admin; gateway keys are not accepted here")
        if changes and not actor.may_change:
            return error(403, "permission_error", f"{actor.name} has the {actor.role} role: it may not change "
                                                  "anything")
        request[ACTOR] = actor
        try:
            return await handler(request)
        except AdminError as exc:
            return error(exc.status, exc.type, exc.message)
        except ValueError as exc:
            return error(400, "invalid_request_error", str(exc))
    return wrapper


async def audit(request: web.Request, gateway: Gateway, action: str, target: str, **detail: Any) -> None:
    actor: Actor = request[ACTOR]
    await record(gateway, AuditEntry(actor.name, actor.kind, action, target, detail))


async def _json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise AdminError(413, "invalid_request_error", f"request body is larger than {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise AdminError(413, "invalid_request_error", f"request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        if optional:
            return {}
        raise AdminError(400, "invalid_request_error", "request body must be a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, "invalid_request_error", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AdminError(400, "invalid_request_error", "request body must be a JSON object")
    return body


def _expiry(body: dict[str, Any]) -> float | None:
    return expiry_from(body.get("expires_at"), body.get("expires_in"))


def register(routes: RouteTable, gateway: Gateway) -> None:
    async def create(request: web.Request) -> web.Response:
        body = await _json_body(request)
        unknown = sorted(set(body) - CREATE_FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)} (known: {', '.join(sorted(CREATE_FIELDS))})")
        record, secret = await create_key(gateway, request[ACTOR], body)
        return json_response({**record.public(), "secret": secret,
                              "note": "store the secret now: it is shown only once",
                              "warnings": rule_warnings(gateway)}, 201)

    async def list_keys(request: web.Request) -> web.Response:
        records = await key_cache(gateway).store.list()
        q = request.query
        data = [r.public() for r in records
                if (not q.get("owner") or r.owner == q["owner"]) and (not q.get("team") or r.team == q["team"])]
        if q.get("status"):
            data = [d for d in data if d["status"] == q["status"]]
        return json_response({"object": "list", "data": data, "warnings": rule_warnings(gateway)})

    async def _found(key_id: str, record: Any) -> web.Response:
        if record is None:
            raise AdminError(404, "not_found_error", f"no key with id {key_id!r}")
        return json_response(record.public())

    async def show(request: web.Request) -> web.Response:
        key_id = request.match_info["id"]
        return await _found(key_id, await key_cache(gateway).store.get(key_id))

    async def revoke(request: web.Request) -> web.Response:
        key_id = request.match_info["id"]
        return await _found(key_id, await revoke_key(gateway, request[ACTOR], key_id))

    async def expire(request: web.Request) -> web.Response:
        key_id = request.match_info["id"]
        body = await _json_body(request, optional=True)
        unknown = sorted(set(body) - {"expires_at", "expires_in"})
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)} (known: expires_at, expires_in)")
        cache = key_cache(gateway)
        record = await cache.store.expire(key_id, _expiry(body))
        if record is not None:
            await cache.refresh()
            log.info("admin: set expiry of key %s", key_id)
            await audit(request, gateway, "key.expire", key_id, name=record.name, expires_at=record.expires_at)
        return await _found(key_id, record)

    async def usage(request: web.Request) -> web.Response:
        q = request.query
        fmt = q.get("format", "json")
        query = ReportQuery.parse(q.get("by"), q.get("since"), q.get("until"))
        writer = gateway.stash.get(LEDGER)
        if writer is not None:
            await writer.flush()              # include this replica's rows still in memory
        rows = await usage_report(gateway.settings, query)
        names = _key_names(gateway) if "key" in query.by else None
        text = render(rows, query, fmt, names)
        ctype = {"json": "application/json", "csv": "text/csv", "table": "text/plain"}[fmt]
        return web.Response(text=text, content_type=ctype, charset="utf-8")

    routes.add("POST", f"{PREFIX}/keys", guarded(gateway, create))
    routes.add("GET", f"{PREFIX}/keys", guarded(gateway, list_keys, changes=False))
    routes.add("GET", f"{PREFIX}/keys/{{id}}", guarded(gateway, show, changes=False))
    routes.add("POST", f"{PREFIX}/keys/{{id}}/revoke", guarded(gateway, revoke))
    routes.add("POST", f"{PREFIX}/keys/{{id}}/expire", guarded(gateway, expire))
    routes.add("PATCH", f"{PREFIX}/keys/{{id}}/expire", guarded(gateway, expire))
    routes.add("GET", f"{PREFIX}/usage", guarded(gateway, usage, changes=False))


def rule_warnings(gateway: Gateway) -> list[str]:
    """Limit rules and budgets naming a key that no config key or stored key has (yet)."""
    known = config_key_names(gateway.settings)
    for r in key_cache(gateway).records():
        known.update((r.id, r.name))
    return unknown_key_warnings(gateway.settings.section(LimitsConfig), known)


def _key_names(gateway: Gateway) -> dict[str, str]:
    names = {k.name: k.name for k in gateway.settings.keys}
    cache = gateway.stash.get(KEY_CACHE)
    if cache is not None:
        names.update({r.id: r.name for r in cache.records()})
    return names


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"admin": AdminConfig}


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    register(routes, gateway)
