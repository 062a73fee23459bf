"""Usage reports after real traffic through a fake upstream: admin API (JSON, CSV) and CLI (table, JSON)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime

import pytest
import yaml
from keys_support import Admin, chat, keys_config
from plugins.reports.usage import ReportQuery, build_sql, render, totals
from proxy.cli import main
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, run_gateway, settings_for

USAGE = Usage(input_tokens=10, output_tokens=5, cached_tokens=2, reasoning_tokens=1)
COST = (10 * 1.0 + 5 * 2.0) / 1e6          # prices: input 1.0, output 2.0 per million (cached/reasoning follow)


@pytest.fixture
async def traffic(fake_openai, tmp_path):
    """alice (config key): 2 ok on chat; bob (store key): 1 ok on chat, 1 upstream 400 on other-ep."""
    cfg = keys_config(fake_openai.base_url)
    cfg["storage"]["ledger"] = {"path": str(tmp_path / "ledger.db"), "flush_interval_seconds": 0.05}
    config_file = tmp_path / "relaygate.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "ledger.db"))) as gw:
        bob = await Admin(gw.url).create(name="bob-key", owner="bob", team="data")
        for secret, model, behavior in ((TEST_KEY, "chat", Behavior(usage=USAGE)),
                                        (TEST_KEY, "chat", Behavior(usage=USAGE)),
                                        (bob["secret"], "chat", Behavior(usage=USAGE)),
                                        (bob["secret"], "other-ep", Behavior(status=400))):
            fake_openai.script(behavior)
            status, body = await chat(gw.url, secret, model)
            assert status == behavior.status, body
        await gw.flush_ledger()
        yield gw, bob["id"], config_file


def by_group(rows: list[dict], dim: str) -> dict[str, dict]:
    return {r[dim]: r for r in rows}


async def test_admin_usage_json_totals_by_key_owner_endpoint_provider_day(traffic):
    gw, bob_id, _ = traffic
    admin = Admin(gw.url)
    status, report = await admin.call("GET", "/usage", params={"by": "key"})
    assert status == 200, report
    keys = by_group(report["rows"], "key")
    assert set(keys) == {"alice-key", bob_id}
    alice, bob = keys["alice-key"], keys[bob_id]
    assert (alice["requests"], alice["input_tokens"], alice["output_tokens"], alice["cached_input_tokens"],
            alice["reasoning_tokens"], alice["total_tokens"], alice["errors"]) == (2, 20, 10, 4, 2, 30, 0)
    assert alice["cost_usd"] == pytest.approx(2 * COST)
    assert (bob["requests"], bob["input_tokens"], bob["errors"], bob["key_name"]) == (2, 10, 1, "bob-key")
    assert bob["cost_usd"] == pytest.approx(COST)
    assert report["totals"]["requests"] == 4 and report["totals"]["total_tokens"] == 45
    assert report["totals"]["cost_usd"] == pytest.approx(3 * COST)

    _, owners = await admin.call("GET", "/usage", params={"by": "owner"})
    assert {o: r["requests"] for o, r in by_group(owners["rows"], "owner").items()} == {"alice": 2, "bob": 2}
    _, eps = await admin.call("GET", "/usage", params={"by": "endpoint"})
    eps_ = by_group(eps["rows"], "endpoint")
    assert (eps_["chat"]["requests"], eps_["chat"]["errors"]) == (3, 0)
    assert (eps_["other-ep"]["requests"], eps_["other-ep"]["errors"]) == (1, 1)
    _, models = await admin.call("GET", "/usage", params={"by": "served_model"})
    assert set(by_group(models["rows"], "served_model")) == {"gpt", "gpt-other"}
    _, providers = await admin.call("GET", "/usage", params={"by": "provider"})
    assert [(r["provider"], r["requests"]) for r in providers["rows"]] == [("openai", 4)]
    _, days = await admin.call("GET", "/usage", params={"by": "day"})
    assert [(r["day"], r["requests"]) for r in days["rows"]] == [(datetime.now(UTC).strftime("%Y-%m-%d"), 4)]
    _, two = await admin.call("GET", "/usage", params={"by": "owner,endpoint"})
    assert {(r["owner"], r["endpoint"]): r["requests"] for r in two["rows"]} == \
        {("alice", "chat"): 2, ("bob", "chat"): 1, ("bob", "other-ep"): 1}


async def test_admin_usage_time_window(traffic):
    gw, _, _ = traffic
    admin = Admin(gw.url)
    _, future = await admin.call("GET", "/usage", params={"since": "2999-01-01T00:00:00Z"})
    assert future["rows"] == [] and future["totals"]["requests"] == 0
    _, past = await admin.call("GET", "/usage", params={"until": "2000-01-01"})
    assert past["rows"] == []
    _, window = await admin.call("GET", "/usage", params={"since": "2000-01-01", "until": "2999-01-01",
                                                          "by": "provider"})
    assert window["totals"]["requests"] == 4


async def test_admin_usage_csv(traffic):
    gw, bob_id, _ = traffic
    status, text = await Admin(gw.url).call("GET", "/usage", params={"by": "key", "format": "csv"})
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["key"] for r in rows} == {"alice-key", bob_id}
    alice = next(r for r in rows if r["key"] == "alice-key")
    assert (alice["requests"], alice["total_tokens"], alice["errors"]) == ("2", "30", "0")
    assert float(alice["cost_usd"]) == pytest.approx(2 * COST)
    assert list(rows[0])[:3] == ["key", "key_name", "requests"]


async def test_cli_usage_table_and_json(traffic, capsys):
    gw, bob_id, config_file = traffic
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["usage", "--config", str(config_file), "--by", "owner"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["owner", "requests", "attempts"]
    table = {ln.split()[0]: ln.split() for ln in lines[2:] if ln and not ln.startswith("-")}
    assert table["alice"][1:3] == ["2", "2"] and table["bob"][1:3] == ["2", "2"]
    assert table["TOTAL"][1] == "4"

    code = await asyncio.to_thread(main, ["usage", "-c", str(config_file), "--by", "key", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert by_group(doc["rows"], "key")[bob_id]["key_name"] == "bob-key"
    assert doc["totals"]["input_tokens"] == 30

    code = await asyncio.to_thread(main, ["usage", "-c", str(config_file), "--by", "nope"])
    assert code == 2 and "nope" in capsys.readouterr().err


def test_report_sql_is_portable_between_backends():
    q = ReportQuery.parse("owner,day", "2026-01-01", "2026-02-01T00:00:00+01:00")
    sqlite_sql, sqlite_params = build_sql(q, dialect="sqlite")
    pg_sql, pg_params = build_sql(q, dialect="postgres", table='"s".ledger')
    assert sqlite_params == pg_params == [1767225600.0, 1769900400.0]
    assert "?" in sqlite_sql and "$1" in pg_sql and "$2" in pg_sql and "?" not in pg_sql
    assert 'FROM "s".ledger' in pg_sql and "to_timestamp(ts)" in pg_sql


async def test_same_report_from_sqlite_and_postgres_ledgers(tmp_path):
    """The report reads a PostgreSQL ledger (plugins.metering.postgres_store) exactly like SQLite."""
    from keys_support import PG_DSN, drop_schema, postgres_schema
    from plugins.metering.postgres_store import PostgresStore
    from plugins.metering.sqlite_store import COLUMNS, SqliteStore
    from plugins.reports.usage import usage_report
    from proxy.config import Settings

    def row(i: int, owner: str, status: int, ts: float, cost: float | None = -1.0) -> tuple:
        values = {c: "" for c in COLUMNS}
        values.update(request_id=f"req_{i}", attempt=1, ts=ts, key_id=f"k-{owner}", owner=owner, endpoint="chat",
                      served_model="gpt", provider="openai", status=status, stream=0, disconnected=0,
                      input_tokens=10 * i, output_tokens=i, cached_input_tokens=0, cache_creation_tokens=0,
                      reasoning_tokens=0, total_tokens=11 * i, latency_ms=1.0, ttft_ms=None, upstream_ms=1.0,
                      cost_usd=0.5 * i if cost == -1.0 else cost, cache_creation_1h_tokens=0, cache_hit=0,
                      saved_cost_usd=None)
        return tuple(values[c] for c in COLUMNS)

    day1, day2 = 1767225600.0 + 3600, 1767225600.0 + 86400 + 3600       # 2026-01-01 and 2026-01-02, 01:00 UTC
    # cy's model has no known price: cost NULL, reported as unknown (never 0) and counted as unpriced
    rows = [row(1, "ann", 200, day1), row(2, "ann", 500, day2), row(3, "ben", 200, day2),
            row(4, "cy", 200, day2, cost=None)]
    schema = await postgres_schema()
    pg = PostgresStore(PG_DSN, schema)
    sq = SqliteStore(str(tmp_path / "ledger.db"))
    try:
        for store in (pg, sq):
            await store.open()
            await store.write(rows)
            await store.close()
        q = ReportQuery.parse("owner,day", None, None)
        from_sqlite = await usage_report(Settings.model_validate(
            {"storage": {"ledger": {"path": str(tmp_path / "ledger.db")}}}), q)
        from_pg = await usage_report(Settings.model_validate({"storage": {"ledger": {
            "backend": "postgres", "postgres_dsn": PG_DSN, "postgres_schema": schema}}}), q)
    finally:
        await drop_schema(schema)
    assert from_pg == from_sqlite
    assert [(r["owner"], r["day"], r["requests"], r["input_tokens"], r["errors"]) for r in from_pg] == [
        ("ann", "2026-01-01", 1, 10, 0), ("ann", "2026-01-02", 1, 20, 1), ("ben", "2026-01-02", 1, 30, 0),
        ("cy", "2026-01-02", 1, 40, 0)]
    assert [(r["cost_usd"], r["unpriced"]) for r in from_pg] == [(0.5, 0), (1.0, 0), (1.5, 0), (None, 1)]
    assert totals(from_pg)["cost_usd"] == pytest.approx(3.0) and totals(from_pg)["unpriced"] == 1
    table = render(from_pg, q, "table").splitlines()
    assert next(ln for ln in table if ln.startswith("cy")).split()[-5:] == ["unknown", "1", "0", "0", "0.000000"]
