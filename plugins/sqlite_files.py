"""Opening the gateway's SQLite files (ledger, key store, Responses store) one way.

busy_timeout comes first: several workers opening the same file at once
contend for the switch to WAL and for the schema. The switch to WAL itself does
not wait on busy_timeout (SQLite answers "database is locked" at once while
another connection writes), so it is retried here for as long as busy_timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_MS = 5000
_WAL_RETRY_SECONDS = 0.05


async def open_sqlite(path: str) -> aiosqlite.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path)
    await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    for attempt in range(int(BUSY_TIMEOUT_MS / 1000 / _WAL_RETRY_SECONDS)):
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if attempt == int(BUSY_TIMEOUT_MS / 1000 / _WAL_RETRY_SECONDS) - 1:
                await db.close()
                raise
            await asyncio.sleep(_WAL_RETRY_SECONDS)
    await db.execute("PRAGMA synchronous=NORMAL")
    return db
