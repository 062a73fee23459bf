"""The ledger's SQLite store: schema, batched inserts, and the queries reports use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from plugins.sqlite_files import open_sqlite

COLUMNS = (
    "request_id", "attempt", "ts", "key_id", "owner", "team", "endpoint", "served_model", "provider",
    "provider_model", "surface", "status", "error", "stream", "disconnected",
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_tokens", "reasoning_tokens",
    "total_tokens", "latency_ms", "ttft_ms", "upstream_ms", "cost_usd", "agent", "session_id",
    "outcome", "labels", "trace_id",
    "cache_creation_1h_tokens", "cache_hit", "saved_cost_usd", "price_source", "price_version",
)

#: columns added after the first release: (name, SQLite definition) — added to older ledgers on open
ADDED_COLUMNS = (("outcome", "TEXT NOT NULL DEFAULT ''"), ("labels", "TEXT NOT NULL DEFAULT ''"),
                 ("trace_id", "TEXT NOT NULL DEFAULT ''"),
                 ("cache_creation_1h_tokens", "INTEGER NOT NULL DEFAULT 0"),
                 ("cache_hit", "INTEGER NOT NULL DEFAULT 0"), ("saved_cost_usd", "REAL"),
                 ("price_source", "TEXT NOT NULL DEFAULT ''"), ("price_version", "TEXT NOT NULL DEFAULT ''"))
#: what a row spooled by an older release gets for a column it lacks (text columns: "")
ADDED_DEFAULTS: dict[str, object] = {"cache_creation_1h_tokens": 0, "cache_hit": 0, "saved_cost_usd": None}
#: columns that older ledgers declare NOT NULL and that may now be NULL (``cost_usd``: unknown price)
NOW_NULLABLE = ("cost_usd",)

#: payload logging (plugins/payloads): one row per provider attempt whose bodies were sampled
PAYLOAD_COLUMNS = (
    "request_id", "attempt", "ts", "endpoint", "key_id", "stream",
    "request_body", "response_body", "request_truncated", "response_truncated",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    request_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    ts REAL NOT NULL,
    key_id TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    team TEXT NOT NULL DEFAULT '',
    endpoint TEXT NOT NULL,
    served_model TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_model TEXT NOT NULL,
    surface TEXT NOT NULL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    stream INTEGER NOT NULL,
    disconnected INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    upstream_ms REAL NOT NULL,
    cost_usd REAL,
    agent TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '',
    trace_id TEXT NOT NULL DEFAULT '',
    cache_creation_1h_tokens INTEGER NOT NULL DEFAULT 0,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    saved_cost_usd REAL,
    price_source TEXT NOT NULL DEFAULT '',
    price_version TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, attempt)
);
CREATE INDEX IF NOT EXISTS ledger_ts ON ledger (ts);
CREATE INDEX IF NOT EXISTS ledger_key_ts ON ledger (key_id, ts);
CREATE INDEX IF NOT EXISTS ledger_owner_ts ON ledger (owner, ts);
CREATE INDEX IF NOT EXISTS ledger_endpoint_ts ON ledger (endpoint, ts);
CREATE TABLE IF NOT EXISTS payloads (
    request_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    ts REAL NOT NULL,
    endpoint TEXT NOT NULL,
    key_id TEXT NOT NULL DEFAULT '',
    stream INTEGER NOT NULL,
    request_body TEXT NOT NULL,
    response_body TEXT NOT NULL,
    request_truncated INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, attempt)
);
CREATE INDEX IF NOT EXISTS payloads_ts ON payloads (ts);
"""

_INSERT = (f"INSERT OR IGNORE INTO ledger ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in COLUMNS)})")

_INSERT_PAYLOAD = (f"INSERT OR IGNORE INTO payloads ({', '.join(PAYLOAD_COLUMNS)}) "
                   f"VALUES ({', '.join('?' for _ in PAYLOAD_COLUMNS)})")


def complete_rows(rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
    """Rows spooled by an older release lack the added columns: give them the defaults."""
    width = len(COLUMNS)
    if all(len(r) == width for r in rows):
        return rows
    pad = tuple(ADDED_DEFAULTS.get(name, "") for name in COLUMNS)
    return [r + pad[len(r):] if len(r) < width else r for r in rows]


class SqliteStore:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self._db = await open_sqlite(self.path)
        await self._db.executescript(SCHEMA)
        async with self._db.execute("PRAGMA table_info(ledger)") as cur:
            have = {row[1] for row in await cur.fetchall()}
        for name, definition in ADDED_COLUMNS:
            if name not in have:                 # a ledger written by an older release
                await self._db.execute(f"ALTER TABLE ledger ADD COLUMN {name} {definition}")
        await self._db.commit()
        await self._drop_not_null()

    async def _drop_not_null(self) -> None:
        """SQLite cannot drop a NOT NULL constraint in place: rebuild an older ledger's table once."""
        assert self._db is not None
        if not await self._not_null(NOW_NULLABLE):
            return
        await self._db.execute("BEGIN IMMEDIATE")    # all or nothing; one worker migrates, the others wait
        if not await self._not_null(NOW_NULLABLE):
            await self._db.commit()
            return
        cols = ", ".join(COLUMNS)
        await self._db.execute("ALTER TABLE ledger RENAME TO ledger_before_nullable_cost")
        for index in ("ledger_ts", "ledger_key_ts", "ledger_owner_ts", "ledger_endpoint_ts"):
            await self._db.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in SCHEMA.split(";"):      # the new table and its indexes
            if statement.strip():
                await self._db.execute(statement)
        await self._db.execute(f"INSERT INTO ledger ({cols}) SELECT {cols} FROM ledger_before_nullable_cost")
        await self._db.execute("DROP TABLE ledger_before_nullable_cost")
        await self._db.commit()

    async def _not_null(self, columns: Sequence[str]) -> bool:
        assert self._db is not None
        async with self._db.execute("PRAGMA table_info(ledger)") as cur:
            return any(row[1] in columns and row[3] for row in await cur.fetchall())

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        assert self._db is not None
        await self._db.executemany(_INSERT, complete_rows(rows))
        await self._db.commit()

    async def write_payloads(self, rows: Sequence[tuple[Any, ...]]) -> None:
        assert self._db is not None
        await self._db.executemany(_INSERT_PAYLOAD, rows)
        await self._db.commit()

    async def ping(self) -> bool:
        if self._db is None:
            return False
        await self._db.execute("SELECT 1")
        return True

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        assert self._db is not None
        self._db.row_factory = aiosqlite.Row
        async with self._db.execute(sql, params) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def delete_before(self, ts: float) -> int:
        assert self._db is not None
        cur = await self._db.execute("DELETE FROM ledger WHERE ts < ?", (ts,))
        await self._db.execute("DELETE FROM payloads WHERE ts < ?", (ts,))
        await self._db.commit()
        return cur.rowcount

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
