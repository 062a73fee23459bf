"""Usage reports: ledger totals grouped by key, owner, team, endpoint, served model, provider model,
agent, agent session or day.

One SQL aggregate over the ledger (SQLite or PostgreSQL, same columns), so a
report costs one indexed scan of the asked time range. ``requests`` counts
distinct request ids; ``attempts`` counts provider attempts (fallbacks make
more than one); ``errors`` counts attempts that ended with a status >= 400
(client disconnects are recorded as 499). ``cost_usd`` sums the attempts whose
price is known; ``unpriced`` counts those whose cost is unknown (NULL: no price for
the model), so a total is never silently short. A group with no known cost at
all has ``cost_usd`` None, shown as "unknown".

Cached input (cache reads), cache writes (their one-hour part apart) and reasoning
tokens are split out. Answers of the gateway's response cache count as requests and
``cache_hits`` with their ``saved_cost_usd``; their tokens are not in the token sums
(no provider processed them), so the sums compare with a provider's own usage export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from plugins.keystore.records import iso, parse_time
from plugins.metering.config import LedgerConfig

if TYPE_CHECKING:
    from proxy.config import Settings

#: report dimension -> ledger column (``day`` is computed per backend)
DIMENSIONS: dict[str, str] = {
    "key": "key_id", "owner": "owner", "team": "team", "endpoint": "endpoint",
    "served_model": "served_model", "provider": "provider", "model": "provider_model", "day": "",
    "agent": "agent", "session_id": "session_id",         # coding agents (plugins/agents)
}
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_tokens",
                 "cache_creation_1h_tokens", "reasoning_tokens", "total_tokens")
MEASURES = ("requests", "attempts", *TOKEN_COLUMNS, "cost_usd", "unpriced", "errors", "cache_hits", "saved_cost_usd")
#: measures that are sums of money (cost_usd: None when nothing in the group is priced)
MONEY = ("cost_usd", "saved_cost_usd")
FORMATS = ("table", "json", "csv")


@dataclass(frozen=True)
class ReportQuery:
    by: tuple[str, ...] = ("key",)
    since: float | None = None
    until: float | None = None

    @classmethod
    def parse(cls, by: str | Sequence[str] | None, since: str | None, until: str | None) -> ReportQuery:
        """From user input (``by="owner,day"``, ISO times); ValueError names the bad part."""
        if by is None or by == "":
            dims: tuple[str, ...] = ("key",)
        else:
            parts = by.split(",") if isinstance(by, str) else list(by)
            dims = tuple(p.strip() for p in parts if p.strip())
        for d in dims:
            if d not in DIMENSIONS:
                raise ValueError(f"'by' must be one or more of {', '.join(DIMENSIONS)}, got {d!r}")
        if len(set(dims)) != len(dims):
            raise ValueError(f"'by' names a dimension twice: {','.join(dims)}")
        return cls(dims, parse_time(since), parse_time(until))


def build_sql(q: ReportQuery, *, dialect: str, table: str = "ledger") -> tuple[str, list[Any]]:
    """The aggregate query and its parameters, for ``sqlite`` or ``postgres`` (``ts``: epoch seconds)."""
    if dialect == "sqlite":
        day = "strftime('%Y-%m-%d', ts, 'unixepoch')"
    else:
        day = "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    exprs = [(DIMENSIONS[d] or day, d) for d in q.by]
    where: list[str] = []
    params: list[Any] = []

    def bound(op: str, value: float) -> None:
        params.append(value)
        mark = "?" if dialect == "sqlite" else f"${len(params)}"
        where.append(f"ts {op} {mark}")

    if q.since is not None:
        bound(">=", q.since)
    if q.until is not None:
        bound("<", q.until)
    sums = ", ".join(f"COALESCE(SUM(CASE WHEN cache_hit = 0 THEN {c} ELSE 0 END), 0) AS {c}" for c in TOKEN_COLUMNS)
    select = ", ".join(f"{e} AS {name}" for e, name in exprs)
    groups = ", ".join(str(i) for i in range(1, len(exprs) + 1))
    sql = (f"SELECT {select}, COUNT(DISTINCT request_id) AS requests, COUNT(*) AS attempts, {sums}, "
           f"SUM(cost_usd) AS cost_usd, "
           f"COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0) AS unpriced, "
           f"COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS errors, "
           f"COALESCE(SUM(cache_hit), 0) AS cache_hits, SUM(saved_cost_usd) AS saved_cost_usd "
           f"FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
           + f" GROUP BY {groups} ORDER BY {groups}")
    return sql, params


def _clean(row: dict[str, Any], q: ReportQuery) -> dict[str, Any]:
    out: dict[str, Any] = {d: ("" if row[d] is None else str(row[d])) for d in q.by}
    for m in MEASURES:
        if m == "cost_usd":
            out[m] = None if row[m] is None else float(row[m])
        elif m == "saved_cost_usd":
            out[m] = float(row[m] or 0.0)
        else:
            out[m] = int(row[m])
    return out


async def _sqlite_rows(path: str, q: ReportQuery) -> list[dict[str, Any]]:
    import aiosqlite

    sql, params = build_sql(q, dialect="sqlite")
    if path != ":memory:" and not Path(path).exists():
        return []                              # no traffic yet; do not create the file
    async with aiosqlite.connect(path) as db:
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA busy_timeout=5000")
        exists = await db.execute_fetchall("SELECT 1 FROM sqlite_master WHERE type='table' AND name='ledger'")
        if not exists:
            return []
        async with db.execute(sql, params) as cur:
            return [dict(r) for r in await cur.fetchall()]


async def _postgres_rows(dsn: str, q: ReportQuery, schema: str) -> list[dict[str, Any]]:
    import asyncpg

    table = f'"{schema}".ledger'           # schema: validated by the config as a plain identifier
    con = await asyncpg.connect(dsn, timeout=10)
    try:
        if await con.fetchval("SELECT to_regclass($1)", table) is None:
            return []
        sql, params = build_sql(q, dialect="postgres", table=table)
        return [dict(r) for r in await con.fetch(sql, *params)]
    finally:
        await con.close()


async def usage_report(settings: Settings, q: ReportQuery) -> list[dict[str, Any]]:
    """Rows of the report, each with the dimensions of ``q.by`` and every measure."""
    cfg = settings.section(LedgerConfig)
    if cfg.backend == "postgres":
        if cfg.postgres_dsn is None:
            raise ValueError("storage.ledger: the postgres backend needs postgres_dsn")
        rows = await _postgres_rows(cfg.postgres_dsn.get_secret_value(), q, cfg.postgres_schema)
    else:
        rows = await _sqlite_rows(cfg.path, q)
    return [_clean(r, q) for r in rows]


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the rows. A request whose fallback attempts went to two served
    models or providers is one request in each of their groups."""
    out: dict[str, Any] = {m: sum(r[m] for r in rows) for m in MEASURES if m not in MONEY}
    known = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    out["cost_usd"] = round(float(sum(known)), 10) if known or not rows else None
    out["saved_cost_usd"] = round(float(sum(r["saved_cost_usd"] for r in rows)), 10)
    return {m: out[m] for m in MEASURES}


# -- rendering -----------------------------------------------------------------


def render(rows: list[dict[str, Any]], q: ReportQuery, fmt: str, names: dict[str, str] | None = None) -> str:
    """The report as ``table``, ``json`` or ``csv`` text. *names* maps key ids to key names."""
    columns = [*q.by, *(["key_name"] if "key" in q.by and names is not None else []), *MEASURES]
    if names is not None and "key" in q.by:
        rows = [{**r, "key_name": names.get(r["key"], "")} for r in rows]
    if fmt == "json":
        doc = {"by": list(q.by), "since": iso(q.since), "until": iso(q.until), "rows": rows,
               "totals": totals(rows)}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: r[c] for c in columns} for r in rows)
        return out.getvalue()
    if fmt == "table":
        return _table(rows, columns)
    raise ValueError(f"'format' must be one of {', '.join(FORMATS)}, got {fmt!r}")


def _cell(value: Any) -> str:
    if value is None:
        return "unknown"          # no price known for the model: not 0
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    total = {c: "" for c in columns}
    total.update(totals(rows))
    total[columns[0]] = "TOTAL"
    cells = [columns] + [[_cell(r[c]) for c in columns] for r in rows] + [[_cell(total[c]) for c in columns]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    numeric = {c for c in columns if c in MEASURES}

    def line(row: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in numeric else v.ljust(w)
                         for v, w, c in zip(row, widths, columns)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(r) for r in cells[1:-1]]
    return "\n".join([line(cells[0]), rule, *body, rule, line(cells[-1])]) + "\n"
