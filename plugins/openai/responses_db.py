"""Where the Responses state lives: SQLite beside the ledger by default, PostgreSQL for replicas.

Two tables, both dropped after ``retention_days``:

* ``responses``: the conversations the gateway keeps for translated endpoints
  (id, key, created, input+output items), so ``previous_response_id`` works there;
* ``response_owners``: which gateway key each relayed response id belongs to
  (passthrough and translated alike), so no other key can continue, or learn of,
  another key's response. The first owner written wins: an id never changes hands.

``storage.responses`` fields left unset follow ``storage.ledger``, as the key store does:
a PostgreSQL ledger puts these tables in its database, so every replica sees them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aiosqlite
from pydantic import Field, SecretStr

from plugins.metering.config import LedgerConfig
from plugins.sqlite_files import open_sqlite
from proxy.config import ConfigModel

if TYPE_CHECKING:
    from proxy.config import Settings


class ResponsesStoreConfig(ConfigModel):
    """``storage.responses``: conversations of translated endpoints and the owners of response ids."""

    backend: Literal["sqlite", "postgres"] | None = Field(None, description="default: the ledger's backend")
    path: str | None = Field(None, description="SQLite file; default: relaygate-responses.db beside the ledger")
    postgres_dsn: SecretStr | None = None           # None: the ledger's DSN
    postgres_schema: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")   # None: the ledger's
    retention_days: float = Field(30, gt=0)
    max_items: int = Field(2000, ge=1, description="most input+output items kept per response")


class ResponsesDb(Protocol):
    backend: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def purge(self, before: float) -> None: ...
    async def items(self, response_id: str, key_id: str, after: float) -> bytes | None: ...
    async def put_items(self, response_id: str, key_id: str, items: bytes) -> None: ...
    async def owner(self, response_id: str, after: float) -> str | None: ...
    async def set_owner(self, response_id: str, key_id: str) -> None: ...


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, created REAL NOT NULL,
                                      items BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS response_owners (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS response_owners_created ON response_owners (created);
"""


class SqliteResponsesDb:
    backend = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the Responses store is not open")
        return self._db

    async def open(self) -> None:
        self._db = await open_sqlite(self.path)
        await self._db.executescript(_SQLITE_SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def purge(self, before: float) -> None:
        await self.db.execute("DELETE FROM responses WHERE created < ?", (before,))
        await self.db.execute("DELETE FROM response_owners WHERE created < ?", (before,))
        await self.db.commit()

    async def items(self, response_id: str, key_id: str, after: float) -> bytes | None:
        async with self.db.execute("SELECT items FROM responses WHERE id = ? AND key_id = ? AND created >= ?",
                                   (response_id, key_id, after)) as cur:
            row = await cur.fetchone()
        return bytes(row[0]) if row else None

    async def put_items(self, response_id: str, key_id: str, items: bytes) -> None:
        await self.db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                              (response_id, key_id, time.time(), items))
        await self.db.commit()

    async def owner(self, response_id: str, after: float) -> str | None:
        async with self.db.execute("SELECT key_id FROM response_owners WHERE id = ? AND created >= ?",
                                   (response_id, after)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def set_owner(self, response_id: str, key_id: str) -> None:
        await self.db.execute("INSERT OR IGNORE INTO response_owners VALUES (?, ?, ?)",
                              (response_id, key_id, time.time()))
        await self.db.commit()


_LOCK_ID = 0x7267_7273          # "rgrs": serialises schema creation across replicas
_TIMEOUT = 5.0


class PostgresResponsesDb:
    backend = "postgres"

    def __init__(self, dsn: str, schema: str = "public") -> None:
        self.dsn = dsn
        self.schema = schema       # validated by the config as a plain identifier
        self._pool: Any = None
        self.responses = f'"{schema}".relaygate_responses'
        self.owners = f'"{schema}".relaygate_response_owners'

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("the Responses store is not open")
        return self._pool

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4, timeout=_TIMEOUT,
                                               command_timeout=_TIMEOUT)
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
            await con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await con.execute(f"CREATE TABLE IF NOT EXISTS {self.responses} (id TEXT PRIMARY KEY, "
                              "key_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, items BYTEA NOT NULL)")
            await con.execute(f"CREATE TABLE IF NOT EXISTS {self.owners} (id TEXT PRIMARY KEY, "
                              "key_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)")
            await con.execute(f"CREATE INDEX IF NOT EXISTS relaygate_response_owners_created "
                              f"ON {self.owners} (created)")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def purge(self, before: float) -> None:
        async with self.pool.acquire() as con:
            await con.execute(f"DELETE FROM {self.responses} WHERE created < $1", before)
            await con.execute(f"DELETE FROM {self.owners} WHERE created < $1", before)

    async def items(self, response_id: str, key_id: str, after: float) -> bytes | None:
        row = await self.pool.fetchval(f"SELECT items FROM {self.responses} WHERE id = $1 AND key_id = $2 "
                                       "AND created >= $3", response_id, key_id, after)
        return bytes(row) if row is not None else None

    async def put_items(self, response_id: str, key_id: str, items: bytes) -> None:
        await self.pool.execute(f"INSERT INTO {self.responses} VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO "
                                "UPDATE SET key_id = EXCLUDED.key_id, created = EXCLUDED.created, "
                                "items = EXCLUDED.items", response_id, key_id, time.time(), items)

    async def owner(self, response_id: str, after: float) -> str | None:
        found = await self.pool.fetchval(f"SELECT key_id FROM {self.owners} WHERE id = $1 AND created >= $2",
                                         response_id, after)
        return str(found) if found is not None else None

    async def set_owner(self, response_id: str, key_id: str) -> None:
        await self.pool.execute(f"INSERT INTO {self.owners} VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                                response_id, key_id, time.time())


def make_responses_db(settings: Settings) -> ResponsesDb:
    cfg, ledger = settings.section(ResponsesStoreConfig), settings.section(LedgerConfig)
    if (cfg.backend or ledger.backend) == "postgres":
        dsn = cfg.postgres_dsn or ledger.postgres_dsn
        if dsn is None:
            raise ValueError("storage.responses: the postgres backend needs postgres_dsn "
                             "(or storage.ledger.postgres_dsn)")
        return PostgresResponsesDb(dsn.get_secret_value(), cfg.postgres_schema or ledger.postgres_schema)
    return SqliteResponsesDb(cfg.path or str(Path(ledger.path).with_name("relaygate-responses.db")))
