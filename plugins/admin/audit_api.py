"""The audit log and config reloads in the admin API.

    GET   /admin/v1/audit            ?since=ISO &until=ISO &action=key.create &limit=1000
                                     &format=json|jsonl|csv (newest first)
    POST  /admin/v1/config/reload    reload the config file now; recorded with who asked
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from plugins.admin.api import ACTOR, PREFIX, AdminError, guarded, json_response
from plugins.audit.log import AUDIT_STORE, RELOAD_ACTOR
from plugins.audit.store import COLUMNS, AuditEntry
from plugins.keystore.records import iso, parse_time
from proxy import hookimpl
from proxy.reload import reload

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.surfaces import RouteTable

MAX_ROWS = 100_000
FORMATS = ("json", "jsonl", "csv")


def export(entries: list[AuditEntry], fmt: str) -> web.Response:
    rows = [{**e.public(), "time": iso(e.ts)} for e in entries]
    if fmt == "json":
        return json_response({"object": "list", "data": rows})
    if fmt == "jsonl":
        body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        return web.Response(body=body, content_type="application/x-ndjson")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", *COLUMNS])
    for r in rows:
        writer.writerow([r["time"], *(orjson.dumps(r[c]).decode() if c == "detail" else r[c] for c in COLUMNS)])
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="relaygate-audit.csv"'})


async def read_audit(gateway: Gateway, since: str | None = None, until: str | None = None,
                     action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    store = gateway.stash.get(AUDIT_STORE)
    if store is None:
        raise AdminError(503, "audit_unavailable", "the audit log is not open")
    return await store.read(parse_time(since), parse_time(until), action or None, limit)


def register(routes: RouteTable, gateway: Gateway) -> None:
    async def list_audit(request: web.Request) -> web.Response:
        q = request.query
        fmt = q.get("format", "json")
        if fmt not in FORMATS:
            raise ValueError(f"'format' must be one of {', '.join(FORMATS)}, got {fmt!r}")
        try:
            limit = int(q.get("limit", "1000"))
        except ValueError:
            raise ValueError(f"'limit' must be a whole number, got {q['limit']!r}") from None
        if not 1 <= limit <= MAX_ROWS:
            raise ValueError(f"'limit' must be between 1 and {MAX_ROWS}")
        return export(await read_audit(gateway, q.get("since"), q.get("until"), q.get("action"), limit), fmt)

    async def reload_config(request: web.Request) -> web.Response:
        source = gateway.settings.source
        if not source or source.startswith("<") or source == "test-config":
            raise AdminError(409, "no_config_file", "this gateway was not started from a config file")
        actor = request[ACTOR]
        gateway.stash[RELOAD_ACTOR] = (actor.name, actor.kind)
        ok = await reload(gateway, source)
        gateway.stash.pop(RELOAD_ACTOR, None)
        if not ok:
            raise AdminError(422, "invalid_config", f"{source} was rejected; the running config is kept "
                                                    "(the gateway's log says why)")
        return json_response({"reloaded": source})

    routes.add("GET", f"{PREFIX}/audit", guarded(gateway, list_audit, changes=False))
    routes.add("POST", f"{PREFIX}/config/reload", guarded(gateway, reload_config))


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    register(routes, gateway)
