"""The key store in PostgreSQL (asyncpg): one table every replica shares.

Like the SQLite store, each change bumps ``relaygate_key_changes.version`` in
its transaction; replicas poll that one row. The schema is created under an
advisory lock so replicas starting together do not race on CREATE TABLE.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

import asyncpg

from plugins.keystore.records import ROW_COLUMNS, KeyRecord, from_rows

_LOCK_ID = 0x7267_6B65          # "rgke": serialises schema creation across replicas
_TIMEOUT = 5.0


class PostgresKeyStore:
    backend = "postgres"

    def __init__(self, dsn: str, schema: str = "public") -> None:
        self.dsn = dsn
        self.schema = schema       # validated by the config as a plain identifier
        self._pool: asyncpg.Pool | None = None
        s = f'"{schema}"'
        self.keys = f"{s}.relaygate_keys"
        self.changes = f"{s}.relaygate_key_changes"
        self._select = f"SELECT {', '.join(ROW_COLUMNS)} FROM {self.keys}"
        self._bump = f"UPDATE {self.changes} SET version = version + 1 WHERE id = 1"

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4, timeout=_TIMEOUT,
                                               command_timeout=_TIMEOUT)
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
            await con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await con.execute(f"""
                CREATE TABLE IF NOT EXISTS {self.keys} (
                    id TEXT PRIMARY KEY,
                    key_sha256 TEXT NOT NULL UNIQUE,
                    prefix TEXT NOT NULL,
                    name TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    owner_kind TEXT NOT NULL,
                    team TEXT NOT NULL DEFAULT '',
                    tags TEXT NOT NULL DEFAULT '[]',
                    endpoints TEXT,
                    created_at DOUBLE PRECISION NOT NULL,
                    expires_at DOUBLE PRECISION,
                    revoked_at DOUBLE PRECISION,
                    updated_at DOUBLE PRECISION NOT NULL
                )""")
            await con.execute(f"""
                CREATE TABLE IF NOT EXISTS {self.changes} (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    version BIGINT NOT NULL
                )""")
            await con.execute(f"INSERT INTO {self.changes} (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING")

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("key store is not open")
        return self._pool

    async def insert(self, record: KeyRecord) -> None:
        params = ", ".join(f"${i}" for i in range(1, len(ROW_COLUMNS) + 1))
        async with self.pool.acquire() as con, con.transaction():
            await con.execute(f"INSERT INTO {self.keys} ({', '.join(ROW_COLUMNS)}) VALUES ({params})",
                              *record.row())
            await con.execute(self._bump)

    async def get(self, key_id: str) -> KeyRecord | None:
        row = await self.pool.fetchrow(self._select + " WHERE id = $1", key_id)
        return KeyRecord.from_row(row) if row else None

    async def list(self) -> list[KeyRecord]:
        return from_rows(await self.pool.fetch(self._select + " ORDER BY created_at, id"))

    async def revoke(self, key_id: str, at: float | None = None) -> KeyRecord | None:
        now = time.time()
        return await self._update(key_id, "revoked_at = COALESCE(revoked_at, $1)", at or now, now)

    async def expire(self, key_id: str, at: float | None = None) -> KeyRecord | None:
        now = time.time()
        return await self._update(key_id, "expires_at = $1", now if at is None else at, now)

    async def _update(self, key_id: str, assignment: str, value: Any, now: float) -> KeyRecord | None:
        async with self.pool.acquire() as con, con.transaction():
            row = await con.fetchrow(f"UPDATE {self.keys} SET {assignment}, updated_at = $2 WHERE id = $3 "
                                     f"RETURNING {', '.join(ROW_COLUMNS)}", value, now, key_id)
            if row is None:
                return None
            await con.execute(self._bump)
        return KeyRecord.from_row(row)

    async def version(self) -> int:
        return int(await self.pool.fetchval(f"SELECT version FROM {self.changes} WHERE id = 1") or 0)

    async def snapshot(self) -> tuple[int, builtins.list[KeyRecord]]:  # list: the method above
        async with self.pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
            version = int(await con.fetchval(f"SELECT version FROM {self.changes} WHERE id = 1") or 0)
            rows = await con.fetch(self._select + " ORDER BY created_at, id")
        return version, from_rows(rows)

    async def ping(self) -> bool:
        return await self.pool.fetchval("SELECT 1") == 1

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
