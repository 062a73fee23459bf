"""The console's read-only pages: usage and spend, keys, budgets and limits, requests, providers, audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from plugins.admin.audit_api import read_audit
from plugins.console import data
from plugins.console.charts import stacked_bars
from plugins.console.html import Page, esc, layout, notice, table, usd
from plugins.keystore.auth import KEY_CACHE
from plugins.keystore.records import iso

if TYPE_CHECKING:
    from proxy.gateway import Gateway


def _choice(request: web.Request, name: str, options: dict[str, str], default: str) -> str:
    value = request.query.get(name, default)
    return value if value in options else default


def _select(name: str, options: dict[str, str], chosen: str) -> str:
    opts = "".join(f'<option value="{esc(k)}"{" selected" if k == chosen else ""}>{esc(v)}</option>'
                   for k, v in options.items())
    return f'<label>{esc(name.title())} <select name="{esc(name)}">{opts}</select></label>'


async def usage(gateway: Gateway, request: web.Request, page: Page) -> str:
    by = _choice(request, "by", data.CHART_BY, "team")
    measure = _choice(request, "measure", data.CHART_MEASURES, "cost_usd")
    days, series, totals = await data.usage_over_time(gateway, by, measure)
    controls = (f'<form method="get" action="{esc(page.href())}" class="controls">'
                f'{_select("by", data.CHART_BY, by)}{_select("measure", data.CHART_MEASURES, measure)}'
                '<button type="submit">Show</button></form>')
    chart = stacked_bars(days, series, unit="$" if measure == "cost_usd" else "",
                         title=f"{data.CHART_MEASURES[measure]} per day by {data.CHART_BY[by].lower()}")
    rows = [(r[by] or "(none)", r["requests"], r["input_tokens"], r["output_tokens"], usd(r["cost_usd"]),
             r["errors"]) for r in sorted(totals, key=lambda r: -(r["cost_usd"] or 0))]
    body = (controls + f'<figure>{chart}<figcaption>Last {len(days)} days (UTC), from the ledger.</figcaption>'
            "</figure>" + table([data.CHART_BY[by], "Requests", "Input tokens", "Output tokens", "Spend", "Errors"],
                                rows, css="totals"))
    return layout(page, "Usage and spend", body, current="")


def keys_body(gateway: Gateway, page: Page, created: tuple[Any, str] | None = None, problem: str = "") -> str:
    cache = gateway.stash.get(KEY_CACHE)
    records = sorted(cache.records(), key=lambda r: -r.created_at) if cache is not None else []
    out = ""
    if created is not None:
        record, secret = created
        out += (f'<div class="secret"><p>Key <strong>{esc(record.name)}</strong> created. Copy the secret now: '
                f'it is shown only once.</p><code id="new-secret">{esc(secret)}</code></div>')
    if problem:
        out += notice(problem, "error")
    rows = []
    for r in records:
        status = r.public()["status"]
        action = page.form(f"keys/{r.id}/revoke", "", button="Revoke", css="inline") \
            if page.role == "admin" and status == "active" else ""
        rows.append((r.name, r.id, r.owner, r.team, ", ".join(r.endpoints) if r.endpoints is not None else "all",
                     iso(r.expires_at) or "never", status, action))
    out += table(["Name", "Id", "Owner", "Team", "Endpoints", "Expires", "Status", ""], rows, raw=(7,), css="keys")
    if page.role == "admin":
        fields = ('<label>Name <input name="name" required maxlength="64" pattern="[A-Za-z0-9_.-]+"></label>'
                  '<label>Owner <input name="owner" maxlength="128"></label>'
                  '<label>Team <input name="team" maxlength="128"></label>'
                  '<label>Endpoints <input name="endpoints" placeholder="all (or: chat, embed)"></label>'
                  '<label>Expires in (days) <input name="expires_days" type="number" min="1" max="3650"></label>')
        out += "<h2>Create a key</h2>" + page.form("keys", fields, button="Create key", css="create")
    config_keys = [(k.name, k.owner, k.team) for k in gateway.settings.keys]
    if config_keys:
        out += "<h2>Keys from the config file</h2>" + table(["Name", "Owner", "Team"], config_keys)
    return out


async def budgets(gateway: Gateway, request: web.Request, page: Page) -> str:
    rows = [(b["scope"], b["subject"], b["period"], usd(b["usd"]), usd(b["spent"]),
             f'<meter min="0" max="{b["usd"]}" value="{min(b["spent"] or 0, b["usd"])}"></meter> '
             f'{100 * (b["spent"] or 0) / b["usd"]:.1f}%', iso(b["resets"]))
            for b in await data.budgets(gateway)]
    body = "<h2>Budgets</h2>" + table(["Scope", "Subject", "Period", "Budget", "Spent", "Used", "Resets"], rows,
                                      raw=(5,))
    rules = [(r["scope"], r["match"], r.get("requests_per_minute") or "", r.get("tokens_per_minute") or "")
             for r in data.limit_rules(gateway)]
    body += "<h2>Rate limits</h2>" + table(["Scope", "Match", "Requests/min", "Tokens/min"], rules)
    refused = [(*r[:3], int(r[3])) for r in data.refusals(gateway)]
    body += ("<h2>Refusals (this replica, since it started)</h2>"
             + table(["Surface", "Endpoint", "Limit", "Refused"], refused))
    return layout(page, "Budgets & limits", body, current="budgets")


async def requests(gateway: Gateway, request: web.Request, page: Page) -> str:
    rid = request.query.get("id")
    rows = await data.recent_requests(gateway, 50, rid)
    shown = [(f'<a href="{esc(page.href("requests"))}?id={esc(r["request_id"])}">{esc(r["request_id"])}</a>',
              r["attempt"], iso(r["ts"]), r["owner"], r["team"], r["endpoint"], r["served_model"], r["status"],
              r["input_tokens"], r["output_tokens"], usd(r["cost_usd"]), f'{r["latency_ms"]:.0f} ms', r["agent"])
             for r in rows]
    body = table(["Request", "Attempt", "Time", "Owner", "Team", "Endpoint", "Model", "Status", "In", "Out", "Cost",
                  "Latency", "Agent"], shown, raw=(0,), css="ledger")
    if rid:
        for p in await data.payloads_of(gateway, rid):
            body += (f"<h2>Attempt {esc(p['attempt'])}: request</h2><pre>{esc(p['request_body'])}</pre>"
                     f"<h2>Response</h2><pre>{esc(p['response_body'])}</pre>")
    return layout(page, f"Request {rid}" if rid else "Recent requests", body, current="requests")


async def health(gateway: Gateway, request: web.Request, page: Page) -> str:
    providers, states = data.provider_health(gateway)
    troubled = {p for p, *_ in states}
    rows = [(p, "degraded" if p in troubled else "healthy") for p in providers]
    body = table(["Provider", "State"], rows, css="providers")
    body += "<h2>Circuits not plainly closed</h2>" + table(
        ["Provider", "Model", "Circuit", "Consecutive failures", "Opened"],
        [(p, m, s, f, iso(o) if o else "") for p, m, s, f, o in states], css="circuits")
    return layout(page, "Providers", body, current="health")


async def audit(gateway: Gateway, request: web.Request, page: Page) -> str:
    entries = await read_audit(gateway, limit=200)
    rows = [(iso(e.ts), e.actor, e.action, e.target, ", ".join(f"{k}={v}" for k, v in e.detail.items() if v))
            for e in entries]
    links = " ".join(f'<a href="{esc(page.href("audit/export"))}?format={f}">{f.upper()}</a>'
                     for f in ("jsonl", "csv"))
    return layout(page, "Audit log", f"<p>Export: {links}</p>" + table(["Time", "Who", "Action", "Target", "Detail"],
                                                                       rows, css="audit"), current="audit")
