"""The key store in a SQLite file (the default; shared by the workers of one host).

Every change bumps a counter in ``relaygate_key_changes`` in the same
transaction, so a replica's cache only has to poll one integer.
"""

from __future__ import annotations

import asyncio
import builtins
import time

import aiosqlite

from plugins.keystore.records import ROW_COLUMNS, KeyRecord, from_rows
from plugins.sqlite_files import open_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS relaygate_keys (
    id TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    team TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    endpoints TEXT,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS relaygate_key_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO relaygate_key_changes (id, version) VALUES (1, 0);
"""

_SELECT = f"SELECT {', '.join(ROW_COLUMNS)} FROM relaygate_keys"
_BUMP = "UPDATE relaygate_key_changes SET version = version + 1 WHERE id = 1"


class SqliteKeyStore:
    backend = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # One connection, used by the refresh poller and by admin calls at once: a transaction
        # (an insert's implicit one, a snapshot's BEGIN) must not interleave with another's.
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._db = await open_sqlite(self.path)
        self._db.row_factory = aiosqlite.Row
        await self._db.executescript(SCHEMA)
        await self._db.commit()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("key store is not open")
        return self._db

    async def insert(self, record: KeyRecord) -> None:
        async with self._lock:
            await self._insert(record)

    async def _insert(self, record: KeyRecord) -> None:
        await self.db.execute(f"INSERT INTO relaygate_keys ({', '.join(ROW_COLUMNS)}) "
                              f"VALUES ({', '.join('?' for _ in ROW_COLUMNS)})", record.row())
        await self.db.execute(_BUMP)
        await self.db.commit()

    async def get(self, key_id: str) -> KeyRecord | None:
        async with self.db.execute(_SELECT + " WHERE id = ?", (key_id,)) as cur:
            row = await cur.fetchone()
        return KeyRecord.from_row(row) if row else None

    async def list(self) -> list[KeyRecord]:
        async with self.db.execute(_SELECT + " ORDER BY created_at, id") as cur:
            return from_rows(await cur.fetchall())

    async def revoke(self, key_id: str, at: float | None = None) -> KeyRecord | None:
        now = time.time()
        return await self._update(key_id, "revoked_at = COALESCE(revoked_at, ?)", (at or now,), now)

    async def expire(self, key_id: str, at: float | None = None) -> KeyRecord | None:
        now = time.time()
        return await self._update(key_id, "expires_at = ?", (now if at is None else at,), now)

    async def _update(self, key_id: str, assignment: str, params: tuple[object, ...],
                      now: float) -> KeyRecord | None:
        async with self._lock:
            return await self._update_locked(key_id, assignment, params, now)

    async def _update_locked(self, key_id: str, assignment: str, params: tuple[object, ...],
                             now: float) -> KeyRecord | None:
        cur = await self.db.execute(f"UPDATE relaygate_keys SET {assignment}, updated_at = ? WHERE id = ?",
                                    (*params, now, key_id))
        if cur.rowcount == 0:
            await self.db.rollback()
            return None
        await self.db.execute(_BUMP)
        await self.db.commit()
        return await self.get(key_id)

    async def version(self) -> int:
        async with self.db.execute("SELECT version FROM relaygate_key_changes WHERE id = 1") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def snapshot(self) -> tuple[int, builtins.list[KeyRecord]]:  # list: the method above
        # One read transaction, so the version matches the rows.
        async with self._lock:
            await self.db.execute("BEGIN")
            try:
                version = await self.version()
                records = await self.list()
            finally:
                await self.db.rollback()
        return version, records

    async def ping(self) -> bool:
        await self.db.execute("SELECT 1")
        return True

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
