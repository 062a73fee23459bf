"""Opening the gateway's SQLite files (ledger, key store, Responses store) one way.

busy_timeout comes first: several workers opening the same file at once
contend for the switch to WAL and for the schema.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite


async def open_sqlite(path: str) -> aiosqlite.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path)
    await db.execute("PRAGMA busy_timeout=5000")
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    return db
