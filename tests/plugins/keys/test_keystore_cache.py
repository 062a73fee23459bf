"""The per-replica key cache: reloads only on change, survives a store outage."""

from __future__ import annotations

from plugins.keystore.records import new_key, parse_duration, parse_time
from plugins.keystore.sqlite_backend import SqliteKeyStore
from plugins.keystore.store import KeyCache


class FlakyStore(SqliteKeyStore):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.down = False
        self.snapshots = 0

    async def version(self) -> int:
        if self.down:
            raise OSError("connection refused")
        return await super().version()

    async def snapshot(self):  # type: ignore[no-untyped-def]
        self.snapshots += 1
        return await super().snapshot()


async def test_cache_reloads_on_change_only_and_keeps_last_copy_when_store_is_down(tmp_path):
    store = FlakyStore(str(tmp_path / "keys.db"))
    await store.open()
    cache = KeyCache(store, refresh_seconds=60)
    try:
        await cache.refresh(force=True)
        assert len(cache) == 0
        record, secret = new_key(name="k", endpoints=["chat"])
        await store.insert(record)
        assert await cache.refresh() is True
        assert await cache.refresh() is False              # nothing changed: no reload
        assert store.snapshots == 2
        found = cache.lookup(secret)
        assert found is not None and found.principal().may_call("chat") and not found.principal().may_call("x")
        assert cache.lookup(secret + "x") is None
        store.down = True
        try:
            await cache.refresh()
        except OSError:
            pass
        assert cache.lookup(secret) is not None             # still served from memory
        store.down = False
        await store.revoke(record.id)
        await cache.refresh()
        refusal = cache.lookup(secret).refusal(0)           # type: ignore[union-attr]
        assert refusal is not None and "revoked" in refusal
    finally:
        await store.close()


def test_time_parsing():
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_time("2026-01-01") == 1767225600.0
    assert parse_time("2026-01-01T01:00:00+01:00") == 1767225600.0
    assert parse_duration("30d") == 30 * 86400 and parse_duration("15m") == 900
