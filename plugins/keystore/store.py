"""Choosing the key store from the config, and each replica's in-memory copy of it.

``storage.keys`` fields left unset follow ``storage.ledger``: a PostgreSQL
ledger means PostgreSQL keys (same DSN), a SQLite ledger means a SQLite key
file next to it (``relaygate-ledger.db`` -> ``relaygate-ledger.keys.db``).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from plugins.keystore.config import KeyStoreConfig
from plugins.keystore.records import KeyRecord, digest
from plugins.metering.config import LedgerConfig

if TYPE_CHECKING:
    from proxy.config import Settings

log = logging.getLogger("relaygate.keystore")


class KeyStore(Protocol):
    backend: str

    async def open(self) -> None: ...
    async def insert(self, record: KeyRecord) -> None: ...
    async def get(self, key_id: str) -> KeyRecord | None: ...
    async def list(self) -> list[KeyRecord]: ...
    async def revoke(self, key_id: str, at: float | None = None) -> KeyRecord | None: ...
    async def expire(self, key_id: str, at: float | None = None) -> KeyRecord | None: ...
    async def version(self) -> int: ...
    async def snapshot(self) -> tuple[int, builtins.list[KeyRecord]]: ...  # list: the method above
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


def keys_path(settings: Settings) -> str:
    cfg = settings.section(KeyStoreConfig)
    if cfg.path:
        return cfg.path
    ledger = settings.section(LedgerConfig).path
    if ledger == ":memory:":
        return ":memory:"
    p = Path(ledger)
    return str(p.with_name(p.stem + ".keys.db"))


def make_key_store(settings: Settings) -> KeyStore:
    cfg, ledger = settings.section(KeyStoreConfig), settings.section(LedgerConfig)
    backend = cfg.backend or ledger.backend
    if backend == "postgres":
        from plugins.keystore.postgres_backend import PostgresKeyStore

        dsn = cfg.postgres_dsn or ledger.postgres_dsn
        if dsn is None:
            raise ValueError("storage.keys: the postgres backend needs postgres_dsn "
                             "(or storage.ledger.postgres_dsn)")
        return PostgresKeyStore(dsn.get_secret_value(), cfg.postgres_schema or ledger.postgres_schema)
    from plugins.keystore.sqlite_backend import SqliteKeyStore

    return SqliteKeyStore(keys_path(settings))


class KeyCache:
    """Every stored key by digest, refreshed when the store's change counter moves.

    Lookups never touch the database. A refresh that fails keeps the last
    good copy (a database blip must not lock everyone out) and is retried on
    the next poll.
    """

    def __init__(self, store: KeyStore, refresh_seconds: float) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.version = -1
        self.loaded_at = 0.0
        self.failures = 0
        self._by_digest: dict[str, KeyRecord] = {}
        self._task: asyncio.Task[None] | None = None

    def lookup(self, secret: str) -> KeyRecord | None:
        return self._by_digest.get(digest(secret))

    def lookup_digest(self, key_digest: str) -> KeyRecord | None:
        return self._by_digest.get(key_digest)

    def __len__(self) -> int:
        return len(self._by_digest)

    def records(self) -> list[KeyRecord]:
        return list(self._by_digest.values())

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload when the store changed; True when the copy was replaced."""
        if not force and await self.store.version() == self.version:
            self.loaded_at = time.time()
            return False
        version, records = await self.store.snapshot()
        self._by_digest = {r.key_sha256: r for r in records}
        self.version, self.loaded_at = version, time.time()
        return True

    async def start(self) -> None:
        await self.refresh(force=True)
        self._task = asyncio.create_task(self._poll(), name="relaygate-keystore-refresh")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.refresh()
                self.failures = 0
            except Exception as exc:      # keep serving the last good copy
                self.failures += 1
                if self.failures in (1, 10) or self.failures % 100 == 0:
                    log.warning("key store refresh failed %d time(s): %s", self.failures, type(exc).__name__)

    def healthy(self) -> bool:
        return self.failures < 3

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
