"""Per-row cost of ledger batch writes: SQLite, and PostgreSQL with each insert method.

    .venv/bin/python tests/bench/bench_ledger.py [--rows 20000] [--batch 500] [--dsn postgresql://...]

Prints microseconds per row (wall time of store.write over batches of --batch
rows, each row a full ledger tuple). Prints numbers, asserts nothing. Uses a
throw-away schema in PostgreSQL (dropped afterwards) and a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg

from plugins.metering.postgres_store import PostgresStore
from plugins.metering.sqlite_store import SqliteStore


def make_rows(n: int, tag: str) -> list[tuple]:
    now = time.time()
    return [(f"req_{tag}_{i:08d}", 1, now + i * 1e-3, "alice-key", "alice", "ml", "chat", "gpt", "openai",
             "gpt-4o-mini", "unified", 200, "", i % 2, 0, 120, 80, 0, 0, 0, 200, 312.5, 41.0, 300.1, 0.00028,
             "", "") for i in range(n)]


async def timed(store, rows: list[tuple], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        await store.write(rows[i:i + batch])
    return (time.perf_counter() - t0) / len(rows) * 1e6


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--dsn", default=os.environ.get("RELAYGATE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    print(f"ledger write cost, {args.rows} rows in batches of {args.batch}:")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(str(Path(tmp) / "bench.db"))
        await sqlite.open()
        print(f"  sqlite                 {await timed(sqlite, make_rows(args.rows, 's'), args.batch):8.1f} us/row")
        print(f"  sqlite (all duplicates){await timed(sqlite, make_rows(args.rows, 's'), args.batch):8.1f} us/row")
        await sqlite.close()
    schema = f"bench_ledger_{os.getpid()}"
    try:
        for method in ("unnest", "copy", "executemany"):
            store = PostgresStore(args.dsn, schema, insert_method=method)
            await store.open()
            await store.write(make_rows(10, "warm" + method))           # schema + pool warm-up
            fresh = await timed(store, make_rows(args.rows, method), args.batch)
            dup = await timed(store, make_rows(args.rows, method), args.batch)
            print(f"  postgres {method:12s}  {fresh:8.1f} us/row   (re-sending the same rows: {dup:.1f} us/row)")
            await store.close()
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"  postgres: unavailable ({type(exc).__name__})")
    finally:
        try:
            con = await asyncpg.connect(args.dsn)
            await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await con.close()
        except (OSError, asyncpg.PostgresError):
            pass


if __name__ == "__main__":
    asyncio.run(main())
