"""What the console shows, read from where the gateway keeps it: the ledger (usage, spend,
recent requests and their payloads), the limiter (budget consumption), the metrics (rate-limit
refusals) and the breakers (provider health). Read-only; every query is bounded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from plugins.limits.admission import LIMITER
from plugins.limits.rules import Budget, is_glob
from plugins.metering.ledger import LEDGER
from plugins.metrics.prometheus import SCRAPE_REGISTRY
from plugins.reports.usage import ReportQuery, usage_report
from proxy import resilience

if TYPE_CHECKING:
    from proxy.gateway import Gateway

#: what the usage chart may group by (ledger dimensions) and measure
CHART_BY = {"team": "Team", "owner": "Owner", "key": "Key", "served_model": "Model", "agent": "Agent",
            "session_id": "Agent session"}
CHART_MEASURES = {"cost_usd": "Spend (USD)", "total_tokens": "Tokens", "requests": "Requests"}
RECENT_COLUMNS = ("request_id", "attempt", "ts", "key_id", "owner", "team", "endpoint", "served_model", "provider",
                  "status", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "agent", "session_id")


async def _flush(gateway: Gateway) -> None:
    writer = gateway.stash.get(LEDGER)
    if writer is not None:
        await writer.flush()                 # this replica's rows still in memory count too


def day_range(days: int, now: float | None = None) -> list[str]:
    today = datetime.fromtimestamp(now or time.time(), UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


async def usage_over_time(gateway: Gateway, by: str, measure: str, days: int = 14
                          ) -> tuple[list[str], dict[str, dict[str, float]], list[dict[str, Any]]]:
    """(days, series name -> day -> value, per-subject totals) for the last *days* UTC days."""
    await _flush(gateway)
    labels = day_range(days)
    since = datetime.fromisoformat(labels[0]).replace(tzinfo=UTC).isoformat()
    rows = await usage_report(gateway.settings, ReportQuery.parse(f"day,{by}", since, None))
    series: dict[str, dict[str, float]] = {}
    for r in rows:
        series.setdefault(r[by], {})[r["day"]] = float(r[measure] or 0.0)
    totals = await usage_report(gateway.settings, ReportQuery.parse(by, since, None))
    return labels, series, totals


async def recent_requests(gateway: Gateway, limit: int = 50, request_id: str | None = None) -> list[dict[str, Any]]:
    await _flush(gateway)
    writer = gateway.stash.get(LEDGER)
    if writer is None or not hasattr(writer.store, "query"):
        return []
    where, params = ("WHERE request_id = ? ", [request_id]) if request_id else ("", [])
    return await writer.store.query(f"SELECT {', '.join(RECENT_COLUMNS)} FROM ledger {where}"
                                    "ORDER BY ts DESC, attempt DESC LIMIT ?", [*params, limit])


async def payloads_of(gateway: Gateway, request_id: str) -> list[dict[str, Any]]:
    """The sampled bodies of a request's attempts (payload logging), already redacted when stored."""
    writer = gateway.stash.get(LEDGER)
    if writer is None or not hasattr(writer.store, "query"):
        return []
    try:
        return await writer.store.query("SELECT attempt, request_body, response_body FROM payloads "
                                        "WHERE request_id = ? ORDER BY attempt", [request_id])
    except Exception:                      # no payload table: payload logging never ran
        return []


async def budgets(gateway: Gateway) -> list[dict[str, Any]]:
    """Each budget rule's subjects this period, with what they spent (the limiter's own count)."""
    limiter = gateway.stash.get(LIMITER)
    if limiter is None:
        return []
    seen: dict[str, set[str]] = {}
    if any(is_glob(b.match) for b in limiter.config.budgets):
        month = day_range(1)[0][:8] + "01"
        for dim in ("key", "owner", "team"):
            rows = await usage_report(gateway.settings, ReportQuery.parse(dim, month, None))
            seen[dim] = {r[dim] for r in rows if r[dim]}
    out = []
    now = limiter.wall()
    for rule in limiter.config.budgets:
        names = [rule.match] if not is_glob(rule.match) else sorted(
            n for n in seen.get(rule.scope, ()) if _glob(rule.match, n))
        for name in names:
            for period, usd in (("day", rule.usd_per_day), ("month", rule.usd_per_month)):
                if usd is None:
                    continue
                budget = Budget(rule.scope, name, period, usd)
                bucket, resets = budget.bucket(now)
                spent = await limiter.backend.spent(bucket) / 1e9 if hasattr(limiter.backend, "spent") else None
                out.append({"scope": rule.scope, "subject": name, "period": period, "usd": usd, "spent": spent,
                            "resets": resets})
    return out


def _glob(pattern: str, name: str) -> bool:
    import fnmatch
    return fnmatch.fnmatchcase(name, pattern)


def limit_rules(gateway: Gateway) -> list[dict[str, Any]]:
    limiter = gateway.stash.get(LIMITER)
    return [r.model_dump() for r in limiter.config.rules] if limiter is not None else []


def refusals(gateway: Gateway) -> list[tuple[str, str, str, float]]:
    """(surface, endpoint, limit, count) of rate-limit and budget refusals since this process started."""
    registry = gateway.stash.get(SCRAPE_REGISTRY)
    if registry is None:
        return []
    found = []
    for metric in registry.collect():
        if metric.name == "relaygate_rate_limited_requests":
            for s in metric.samples:
                if s.name.endswith("_total") and s.value:
                    found.append((s.labels["surface"], s.labels["endpoint"], s.labels["limit"], s.value))
    return sorted(found, key=lambda r: -r[3])


def provider_health(gateway: Gateway) -> tuple[list[str], list[tuple[str, str, str, int, float]]]:
    """(every provider's name, the breakers that are not plainly healthy)."""
    return sorted(gateway.runtime.providers), sorted(resilience.of(gateway).breakers.states())
