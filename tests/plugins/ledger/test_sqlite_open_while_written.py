"""A worker opening a SQLite file while another one writes it waits, instead of dying.

SQLite answers the switch to WAL with "database is locked" at once (busy_timeout does not
apply to it) while another connection holds a write lock: two workers starting together
hit that (a worker of `relaygate serve --workers 2` used to exit and be restarted).
"""

from __future__ import annotations

import asyncio

import aiosqlite

from plugins.sqlite_files import open_sqlite


async def test_open_waits_for_a_writer_instead_of_failing(tmp_path) -> None:
    path = str(tmp_path / "keys.db")
    writer = await aiosqlite.connect(path, isolation_level=None)       # a fresh file, rollback journal
    await writer.execute("CREATE TABLE t (x)")
    await writer.execute("BEGIN IMMEDIATE")
    await writer.execute("INSERT INTO t VALUES (1)")

    async def commit_soon() -> None:
        await asyncio.sleep(0.3)
        await writer.execute("COMMIT")

    release = asyncio.create_task(commit_soon())
    db = await open_sqlite(path)                      # raised "database is locked" at once before
    try:
        async with db.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with db.execute("SELECT count(*) FROM t") as cur:
            assert (await cur.fetchone())[0] == 1
    finally:
        await release
        await db.close()
        await writer.close()
