"""Where the audit log lives: beside the keys (the key store's SQLite file or PostgreSQL database).

One append-only table, ``relaygate_audit``. Rows are never updated; reads are newest first.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from plugins.sqlite_files import open_sqlite

if TYPE_CHECKING:
    from proxy.config import Settings

COLUMNS = ("ts", "actor", "actor_kind", "action", "target", "detail")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin action: who (an admin token, a signed-in person, the config file) did what, when."""

    actor: str                      # "admin-token", "sso:corp:u-1001 (dev@example.com)", "config-file"
    actor_kind: str                 # admin_token | sso | system
    action: str                     # key.create, key.revoke, key.expire, config.reload, console.login, ...
    target: str = ""                # a key id, a config file, ...
    detail: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def row(self) -> tuple[Any, ...]:
        return (self.ts, self.actor, self.actor_kind, self.action, self.target, orjson.dumps(self.detail).decode())

    def public(self) -> dict[str, Any]:
        return asdict(self)


def entry_of(row: Any) -> AuditEntry:
    ts, actor, kind, action, target, detail = (row[c] for c in COLUMNS)
    return AuditEntry(actor, kind, action, target, orjson.loads(detail or "{}"), float(ts))


class AuditStore(Protocol):
    async def open(self) -> None: ...
    async def append(self, entry: AuditEntry) -> None: ...
    async def read(self, since: float | None, until: float | None, action: str | None,
                   limit: int) -> list[AuditEntry]: ...
    async def close(self) -> None: ...


def _where(since: float | None, until: float | None, action: str | None, mark: Any) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for sql, value in (("ts >= ", since), ("ts < ", until), ("action = ", action)):
        if value is not None:
            params.append(value)
            parts.append(sql + mark(len(params)))
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


class SqliteAudit:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: Any = None

    async def open(self) -> None:
        import aiosqlite

        self._db = await open_sqlite(self.path)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("CREATE TABLE IF NOT EXISTS relaygate_audit (id INTEGER PRIMARY KEY, ts REAL NOT NULL,"
                               " actor TEXT NOT NULL, actor_kind TEXT NOT NULL, action TEXT NOT NULL,"
                               " target TEXT NOT NULL, detail TEXT NOT NULL)")
        await self._db.execute("CREATE INDEX IF NOT EXISTS relaygate_audit_ts ON relaygate_audit (ts)")
        await self._db.commit()

    async def append(self, entry: AuditEntry) -> None:
        await self._db.execute(f"INSERT INTO relaygate_audit ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                               entry.row())
        await self._db.commit()

    async def read(self, since: float | None, until: float | None, action: str | None,
                   limit: int) -> list[AuditEntry]:
        where, params = _where(since, until, action, lambda _: "?")
        sql = f"SELECT {', '.join(COLUMNS)} FROM relaygate_audit{where} ORDER BY ts DESC, id DESC LIMIT ?"
        async with self._db.execute(sql, (*params, limit)) as cur:
            return [entry_of(r) for r in await cur.fetchall()]

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


class PostgresAudit:
    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn, self.table, self.schema = dsn, f'"{schema}".relaygate_audit', schema
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=2, timeout=5, command_timeout=5)
        async with self._pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", 0x72676175)     # "rgau": one creator
            await con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await con.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id BIGSERIAL PRIMARY KEY, "
                              "ts DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, actor_kind TEXT NOT NULL, "
                              "action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL)")

    async def append(self, entry: AuditEntry) -> None:
        await self._pool.execute(f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) "
                                 "VALUES ($1, $2, $3, $4, $5, $6)", *entry.row())

    async def read(self, since: float | None, until: float | None, action: str | None,
                   limit: int) -> list[AuditEntry]:
        where, params = _where(since, until, action, lambda n: f"${n}")
        sql = (f"SELECT {', '.join(COLUMNS)} FROM {self.table}{where} ORDER BY ts DESC, id DESC "
               f"LIMIT ${len(params) + 1}")
        return [entry_of(r) for r in await self._pool.fetch(sql, *params, limit)]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def make_audit_store(settings: Settings) -> AuditStore:
    """Beside the keys: the key store's backend, file or database."""
    from plugins.keystore.config import KeyStoreConfig
    from plugins.keystore.store import keys_path
    from plugins.metering.config import LedgerConfig

    cfg, ledger = settings.section(KeyStoreConfig), settings.section(LedgerConfig)
    if (cfg.backend or ledger.backend) == "postgres":
        dsn = cfg.postgres_dsn or ledger.postgres_dsn
        if dsn is None:
            raise ValueError("the audit log follows the key store: postgres needs a postgres_dsn")
        return PostgresAudit(dsn.get_secret_value(), cfg.postgres_schema or ledger.postgres_schema)
    return SqliteAudit(keys_path(settings))
