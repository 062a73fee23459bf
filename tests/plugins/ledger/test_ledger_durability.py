"""The ledger loses nothing: concurrency with abandoned streams, PostgreSQL outages, shutdown, memory cap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from ledger_support import TcpForwarder, drop_schema, eventually, mixed_traffic, new_schema, pg_rows, send
from support.behavior import Behavior, Usage
from support.gateway import openai_config, run_gateway, settings_for

from plugins.metering.ledger import LEDGER, apply_retention
from plugins.metering.spool import Spool

STREAM = Behavior(chunks=20, chunk_delay=0.02, times=None, usage=Usage(input_tokens=11, output_tokens=20))


def ledger_settings(base_url: str, tmp_path: Path, **ledger: object):
    cfg = openai_config(base_url)
    # Abandoned streams are read on for their usage (the default closes them at once).
    cfg["endpoints"]["chat"]["timeouts"] = {"disconnect_drain_seconds": 10}
    cfg["storage"] = {"ledger": {"path": str(tmp_path / "ledger.db"), "spool_dir": str(tmp_path / "spool"),
                                 "flush_interval_seconds": 0.05, "spool_retry_seconds": 0.2, **ledger}}
    return settings_for(cfg, ledger_path=str(tmp_path / "ledger.db"))


@pytest.fixture
async def pg_schema():
    schema = await new_schema()
    yield schema
    await drop_schema(schema)


def pg_ledger(dsn: str, schema: str) -> dict[str, object]:
    return {"backend": "postgres", "postgres_dsn": dsn, "postgres_schema": schema}


async def _check_concurrent_rows(gw, fetch) -> None:
    abandoned = await mixed_traffic(gw.url, 100)

    async def all_there():
        await gw.flush_ledger()
        return len(await fetch()) == 100
    assert await eventually(all_there), f"expected 100 rows, got {len(await fetch())}"
    rows = await fetch()
    assert len({r["request_id"] for r in rows}) == 100
    gone = [r for r in rows if r["disconnected"]]
    assert len(gone) == abandoned == 20
    # Abandoned streams are metered: the gateway read on for the provider's usage.
    assert all(r["output_tokens"] == 20 and r["input_tokens"] == 11 and r["cost_usd"] > 0 for r in gone)
    assert all(r["status"] == 200 for r in rows)


async def test_sqlite_row_count_equals_requests_with_abandoned_streams(fake_openai, tmp_path):
    fake_openai.always(STREAM)
    async with run_gateway(ledger_settings(fake_openai.base_url, tmp_path)) as gw:
        await _check_concurrent_rows(gw, gw.ledger_rows)


async def test_postgres_row_count_equals_requests_with_abandoned_streams(fake_openai, tmp_path, pg_schema):
    from ledger_support import PG_DSN
    fake_openai.always(STREAM)
    settings = ledger_settings(fake_openai.base_url, tmp_path, **pg_ledger(PG_DSN, pg_schema))
    async with run_gateway(settings) as gw:
        await _check_concurrent_rows(gw, lambda: pg_rows(pg_schema))
        assert await gw.gateway.stash[LEDGER].store.ping()


async def test_without_drain_an_abandoned_stream_still_gets_a_row_with_the_prompt_estimated(fake_openai, tmp_path):
    fake_openai.always(STREAM)
    cfg = openai_config(fake_openai.base_url)             # default: the provider call is closed at once
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        await send(gw.url, stream=True, abandon=True)
        assert await eventually(lambda: _has_rows(gw, 1))
        (row,) = await gw.ledger_rows()
    assert row["disconnected"] == 1 and row["error"] == "client_disconnected"
    assert row["input_tokens"] > 0 and row["cost_usd"] > 0


async def _has_rows(gw, n: int) -> bool:
    return len(await gw.ledger_rows()) == n


async def test_postgres_outage_spools_rows_and_ships_them_once_back(fake_openai, tmp_path, pg_schema):
    fake_openai.always(Behavior(times=None))
    fwd = await TcpForwarder().start()
    settings = ledger_settings(fake_openai.base_url, tmp_path, **pg_ledger(fwd.dsn(), pg_schema))
    async with run_gateway(settings) as gw:
        writer = gw.gateway.stash[LEDGER]
        spool = Spool(str(tmp_path / "spool"), "ledger")
        await asyncio.gather(*(send(gw.url) for _ in range(20)))
        await gw.flush_ledger()
        assert len(await pg_rows(pg_schema)) == 20

        await fwd.cut()                                     # PostgreSQL unreachable mid-run
        assert not await writer.store.ping()
        # Formerly 503 here: the spool absorbs the outage, so the gateway stays ready (degraded).
        async with __import__("aiohttp").ClientSession() as s, s.get(gw.url + "/readyz") as r:
            assert r.status == 200 and "ledger" not in (await r.json())["checks"]
        await asyncio.gather(*(send(gw.url) for _ in range(30)))
        await gw.flush_ledger()
        assert writer.pending == []                        # nothing waits in memory ...
        assert spool.pending_rows() == 30                  # ... it is on disk
        assert len(await pg_rows(pg_schema)) == 20

        await fwd.restore()
        assert await eventually(lambda: _count_is(pg_schema, 50)), "spooled rows were not shipped"
        assert spool.files() == []
        await asyncio.gather(*(send(gw.url) for _ in range(5)))
        await gw.flush_ledger()
    rows = await pg_rows(pg_schema)
    assert len(rows) == 55 and len({r["request_id"] for r in rows}) == 55
    await fwd.cut()


async def _count_is(schema: str, n: int) -> bool:
    return len(await pg_rows(schema)) == n


async def test_spooled_batch_shipped_twice_leaves_one_row_each(tmp_path, pg_schema):
    from ledger_support import PG_DSN
    from plugins.metering.ledger import LedgerWriter
    from plugins.metering.postgres_store import PostgresStore
    store = PostgresStore(PG_DSN, pg_schema)
    spool = Spool(str(tmp_path / "spool"), "ledger")
    writer = LedgerWriter(store, 60, 500, spool=spool)
    await store.open()
    rows = [_row(f"req_dup_{i}", time.time()) for i in range(10)]
    first = spool.append(rows)
    (tmp_path / "spool" / ("ledger-0-copy-" + first.name)).write_bytes(first.read_bytes())  # a second worker's copy
    assert await writer.ship_spool() == 20
    await store.write(rows)                                 # and once more directly
    assert len(await pg_rows(pg_schema)) == 10
    await store.close()


async def test_graceful_shutdown_flushes_to_the_store(fake_openai, tmp_path):
    fake_openai.always(Behavior(times=None))
    settings = ledger_settings(fake_openai.base_url, tmp_path, flush_interval_seconds=3600)
    async with run_gateway(settings) as gw:
        await asyncio.gather(*(send(gw.url) for _ in range(12)))
        assert len(gw.gateway.stash[LEDGER].pending) == 12   # not written yet
    import sqlite3
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        assert db.execute("SELECT count(*) FROM ledger").fetchone()[0] == 12


async def test_shutdown_with_postgres_down_spools_and_next_start_ships(fake_openai, tmp_path, pg_schema):
    fake_openai.always(Behavior(times=None))
    fwd = await TcpForwarder().start()
    settings = ledger_settings(fake_openai.base_url, tmp_path, flush_interval_seconds=3600,
                               write_timeout_seconds=2, **pg_ledger(fwd.dsn(), pg_schema))
    async with run_gateway(settings) as gw:
        await asyncio.gather(*(send(gw.url) for _ in range(7)))
        await fwd.cut()
    assert Spool(str(tmp_path / "spool"), "ledger").pending_rows() == 7
    await fwd.restore()
    async with run_gateway(settings):
        assert await eventually(lambda: _count_is(pg_schema, 7))
    await fwd.cut()


async def test_memory_cap_spills_to_the_spool_and_nothing_is_lost(fake_openai, tmp_path):
    fake_openai.always(Behavior(times=None))
    settings = ledger_settings(fake_openai.base_url, tmp_path, flush_interval_seconds=3600, max_pending_rows=5)
    async with run_gateway(settings) as gw:
        for _ in range(13):
            await send(gw.url)
        writer = gw.gateway.stash[LEDGER]
        assert len(writer.pending) <= 5 and writer.spool.spilled_rows >= 6
        await writer.flush()
        await writer.ship_spool()
        rows = await gw.ledger_rows()
    assert len(rows) == 13 and len({r["request_id"] for r in rows}) == 13


def _row(request_id: str, ts: float) -> tuple:
    return (request_id, 1, ts, "k", "o", "t", "chat", "gpt", "openai", "m", "unified", 200, "", 0, 0,
            1, 2, 0, 0, 0, 3, 10.0, None, 9.0, 0.0, "", "")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_retention_deletes_rows_older_than_retention_days(fake_openai, tmp_path, backend, request):
    extra: dict[str, object] = {"retention_days": 7}
    schema = None
    if backend == "postgres":
        from ledger_support import PG_DSN
        schema = await new_schema()
        request.addfinalizer(lambda: asyncio.run(drop_schema(schema)))
        extra |= pg_ledger(PG_DSN, schema)
    settings = ledger_settings(fake_openai.base_url, tmp_path, **extra)
    async with run_gateway(settings) as gw:
        store = gw.gateway.stash[LEDGER].store
        now = time.time()
        await store.write([_row("old", now - 8 * 86400), _row("recent", now - 6 * 86400), _row("new", now)])
        await store.write_payloads([("old", 1, now - 9 * 86400, "chat", "k", 0, "{}", "{}", 0, 0)])
        assert await apply_retention(gw.gateway) == 1
        left = await store.query("SELECT request_id FROM ledger ORDER BY ts")
        assert [r["request_id"] for r in left] == ["recent", "new"]
        assert await store.query("SELECT request_id FROM payloads") == []
