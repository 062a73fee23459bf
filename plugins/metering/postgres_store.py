"""The ledger's PostgreSQL store (asyncpg): the same columns as SQLite, shared by every replica.

Inserts are idempotent on (request_id, attempt), so a batch shipped twice
(from the spool, or by two workers) leaves one row. The pool connects lazily:
the gateway starts and meters into the spool while PostgreSQL is down, and the
schema is created (under an advisory lock, replicas start together) on the
first connection that works.

Batch insert methods (``insert_method``; tests/bench/bench_ledger.py measures them):
``unnest`` one INSERT ... SELECT FROM unnest($1::text[], ...) per batch (default,
fastest here); ``copy`` COPY into a temporary table, then INSERT ... SELECT;
``executemany`` a prepared INSERT per row, pipelined.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from plugins.metering.sqlite_store import COLUMNS, PAYLOAD_COLUMNS, complete_rows

_LOCK_ID = 0x7267_6C67          # "rglg": serialises schema creation across replicas
_CONNECT_TIMEOUT = 5.0

#: PostgreSQL types of the ledger's columns (the column list itself lives in sqlite_store)
_TYPES = {
    "request_id": "TEXT", "attempt": "INTEGER", "ts": "DOUBLE PRECISION", "key_id": "TEXT", "owner": "TEXT",
    "team": "TEXT", "endpoint": "TEXT", "served_model": "TEXT", "provider": "TEXT", "provider_model": "TEXT",
    "surface": "TEXT", "status": "INTEGER", "error": "TEXT", "stream": "SMALLINT", "disconnected": "SMALLINT",
    "input_tokens": "BIGINT", "output_tokens": "BIGINT", "cached_input_tokens": "BIGINT",
    "cache_creation_tokens": "BIGINT", "reasoning_tokens": "BIGINT", "total_tokens": "BIGINT",
    "latency_ms": "DOUBLE PRECISION", "ttft_ms": "DOUBLE PRECISION", "upstream_ms": "DOUBLE PRECISION",
    "cost_usd": "DOUBLE PRECISION", "agent": "TEXT", "session_id": "TEXT", "outcome": "TEXT", "labels": "TEXT",
    "trace_id": "TEXT", "cache_creation_1h_tokens": "BIGINT", "cache_hit": "SMALLINT",
    "saved_cost_usd": "DOUBLE PRECISION", "price_source": "TEXT", "price_version": "TEXT",
}
#: columns added after the first release, added to older ledgers when the schema is ensured: their clause
_ADDED = {"outcome": "NOT NULL DEFAULT ''", "labels": "NOT NULL DEFAULT ''", "trace_id": "NOT NULL DEFAULT ''",
          "cache_creation_1h_tokens": "NOT NULL DEFAULT 0", "cache_hit": "NOT NULL DEFAULT 0",
          "saved_cost_usd": "", "price_source": "NOT NULL DEFAULT ''", "price_version": "NOT NULL DEFAULT ''"}
_PAYLOAD_TYPES = {
    "request_id": "TEXT", "attempt": "INTEGER", "ts": "DOUBLE PRECISION", "endpoint": "TEXT", "key_id": "TEXT",
    "stream": "SMALLINT", "request_body": "TEXT", "response_body": "TEXT", "request_truncated": "SMALLINT",
    "response_truncated": "SMALLINT",
}
assert tuple(_TYPES) == COLUMNS and tuple(_PAYLOAD_TYPES) == PAYLOAD_COLUMNS, "column lists out of sync"
_NULLABLE = {"ttft_ms", "cost_usd", "saved_cost_usd"}   # cost_usd: NULL when no price is known
_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "ledger": [("ts",), ("key_id", "ts"), ("owner", "ts"), ("team", "ts"), ("endpoint", "ts"),
               ("served_model", "ts"), ("provider", "ts")],
    "payloads": [("ts",)],
}


def _ddl(schema: str, table: str, types: dict[str, str]) -> list[str]:
    cols = ",\n    ".join(f"{c} {t}{'' if c in _NULLABLE else ' NOT NULL'}" for c, t in types.items())
    sql = [f'CREATE TABLE IF NOT EXISTS "{schema}".{table} (\n    {cols},\n    PRIMARY KEY (request_id, attempt)\n)']
    for idx in _INDEXES[table]:
        sql.append(f'CREATE INDEX IF NOT EXISTS {table}_{"_".join(idx)} ON "{schema}".{table} ({", ".join(idx)})')
    return sql


def _qmarks_to_dollars(sql: str) -> str:
    """Reports write portable SQL with ``?`` placeholders; asyncpg wants ``$1``.. (no ``?`` in literals)."""
    n = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(n)}", sql)


class _Table:
    """The insert statements of one table, for each insert method."""

    def __init__(self, schema: str, name: str, types: dict[str, str]) -> None:
        self.name, self.columns = name, tuple(types)
        cols = ", ".join(self.columns)
        target = f'"{schema}".{name}'
        self.values = f"INSERT INTO {target} ({cols}) VALUES ({', '.join(f'${i + 1}' for i in range(len(types)))}) " \
                      "ON CONFLICT DO NOTHING"
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types.values()))
        self.unnest = f"INSERT INTO {target} ({cols}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
        self.temp = f"{name}_incoming"
        self.create_temp = (f"CREATE TEMP TABLE IF NOT EXISTS {self.temp} (LIKE {target} INCLUDING DEFAULTS) "
                            "ON COMMIT DELETE ROWS")
        self.from_temp = f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {self.temp} ON CONFLICT DO NOTHING"


class PostgresStore:
    dialect = "postgres"

    def __init__(self, dsn: str, schema: str = "public", *, insert_method: str = "unnest",
                 command_timeout: float = 10.0, max_connections: int = 4) -> None:
        self.dsn = dsn              # may hold a password: never logged
        self.schema = schema        # validated by the config as a plain identifier
        self.insert_method = insert_method
        self.command_timeout = command_timeout
        self.max_connections = max_connections
        self.ledger = _Table(schema, "ledger", _TYPES)
        self.payloads = _Table(schema, "payloads", _PAYLOAD_TYPES)
        self._pool: asyncpg.Pool | None = None
        self._schema_ready = False
        self._open_lock = asyncio.Lock()

    async def open(self) -> None:
        """Create the pool without connecting; PostgreSQL may be down right now (rows then spool)."""
        self._pool = asyncpg.create_pool(self.dsn, min_size=0, max_size=self.max_connections,
                                         timeout=_CONNECT_TIMEOUT, command_timeout=self.command_timeout,
                                         max_inactive_connection_lifetime=60)
        await self._pool
        try:
            await self._ensure_schema()
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pass                    # retried on the first write

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._open_lock:
            if self._schema_ready:
                return
            async with self.pool.acquire() as con, con.transaction():
                await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
                await con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                for sql in _ddl(self.schema, "ledger", _TYPES) + _ddl(self.schema, "payloads", _PAYLOAD_TYPES):
                    await con.execute(sql)
                for name, clause in _ADDED.items():
                    await con.execute(f'ALTER TABLE "{self.schema}".ledger '
                                      f"ADD COLUMN IF NOT EXISTS {name} {_TYPES[name]} {clause}")
                # older ledgers: cost_usd was NOT NULL DEFAULT 0; unknown prices are NULL now
                await con.execute(f'ALTER TABLE "{self.schema}".ledger ALTER COLUMN cost_usd DROP NOT NULL')
            self._schema_ready = True

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "store not opened"
        return self._pool

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await self._insert(self.ledger, complete_rows(rows))

    async def write_payloads(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await self._insert(self.payloads, rows)

    async def _insert(self, table: _Table, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        await self._ensure_schema()
        async with self.pool.acquire() as con:
            if self.insert_method == "unnest":
                await con.execute(table.unnest, *(list(col) for col in zip(*rows)))
            elif self.insert_method == "copy":
                async with con.transaction():
                    await con.execute(table.create_temp)
                    await con.copy_records_to_table(table.temp, records=rows, columns=table.columns)
                    await con.execute(table.from_temp)
            else:
                await con.executemany(table.values, rows)

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(2):
                await self._ensure_schema()
                async with self.pool.acquire() as con:
                    await con.fetchval("SELECT 1")
            return True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a report query written with ``?`` placeholders and unqualified table names."""
        await self._ensure_schema()
        async with self.pool.acquire() as con:
            await con.execute(f'SET search_path TO "{self.schema}"')
            try:
                return [dict(r) for r in await con.fetch(_qmarks_to_dollars(sql), *params)]
            finally:
                await con.execute("RESET search_path")

    async def delete_before(self, ts: float) -> int:
        await self._ensure_schema()
        async with self.pool.acquire() as con:
            status = await con.execute(f'DELETE FROM "{self.schema}".ledger WHERE ts < $1', ts)
            await con.execute(f'DELETE FROM "{self.schema}".payloads WHERE ts < $1', ts)
        return int(status.rsplit(" ", 1)[-1])

    async def close(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), 5)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                self._pool.terminate()
            self._pool = None
