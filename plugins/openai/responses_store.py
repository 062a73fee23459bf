"""Stateful Responses for every model: ``previous_response_id`` on translated endpoints.

When a Responses request is served by a provider that keeps no state (chat
servers, Anthropic, Gemini), the gateway keeps the conversation itself: after
each answer it stores the full input plus the output items under the
``resp_`` id it returned, scoped to the key that created it, in SQLite beside
the ledger (``storage.responses``: path, retention_days, max_items). A later
request naming that id gets the stored items prepended to its input before
translation. ``store: false`` (what Codex sends) stores nothing. OpenAI-native
passthrough routes are left alone: OpenAI keeps its own state.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
import orjson
from pydantic import Field

from plugins.metering.config import LedgerConfig
from plugins.sqlite_files import open_sqlite
from proxy import hookimpl
from proxy.config import ConfigModel
from proxy.errors import RequestRejected
from proxy.stash import StashKey
from proxy.upstream import TRANSLATED_RESPONSE

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway
    from proxy.sections import Spec

_SCHEMA = ("CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, "
           "created REAL NOT NULL, items BLOB NOT NULL)")


class ResponsesStoreConfig(ConfigModel):
    """``storage.responses``: conversations kept so ``previous_response_id`` works on translated endpoints."""

    path: str | None = Field(None, description="SQLite file; default: relaygate-responses.db beside the ledger")
    retention_days: float = Field(30, gt=0)
    max_items: int = Field(2000, ge=1, description="most input+output items kept per response")


class ResponseStore:
    def __init__(self, path: str, retention_days: float, max_items: int) -> None:
        self.path = path
        self.retention_s = retention_days * 86400
        self.max_items = max_items
        self._db: aiosqlite.Connection | None = None
        self._writes = 0

    async def open(self) -> None:
        self._db = await open_sqlite(self.path)
        await self._db.execute(_SCHEMA)
        await self.purge()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def purge(self) -> None:
        assert self._db is not None
        await self._db.execute("DELETE FROM responses WHERE created < ?", (time.time() - self.retention_s,))
        await self._db.commit()

    async def get(self, response_id: str, key_id: str) -> list[dict[str, Any]] | None:
        assert self._db is not None
        async with self._db.execute("SELECT items, created FROM responses WHERE id = ? AND key_id = ?",
                                    (response_id, key_id)) as cur:
            row = await cur.fetchone()
        if row is None or row[1] < time.time() - self.retention_s:
            return None
        items: list[dict[str, Any]] = orjson.loads(row[0])
        return items

    async def put(self, response_id: str, key_id: str, items: list[dict[str, Any]]) -> None:
        assert self._db is not None
        await self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                               (response_id, key_id, time.time(), orjson.dumps(items[-self.max_items:])))
        await self._db.commit()
        self._writes += 1
        if self._writes % 500 == 0:
            await self.purge()


#: open from start-up to shutdown
RESPONSE_STORE: StashKey[ResponseStore] = StashKey("responses_store")
#: the full input of a request to store with its answer (absent for ``store: false``)
_INPUT: StashKey[list[dict[str, Any]]] = StashKey("responses_store.input")


def as_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value or [])


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"storage.responses": ResponsesStoreConfig}


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    cfg = gateway.settings.section(ResponsesStoreConfig)
    ledger = gateway.settings.section(LedgerConfig)
    path = cfg.path or str(Path(ledger.path).with_name("relaygate-responses.db"))
    store = ResponseStore(path, cfg.retention_days, cfg.max_items)
    await store.open()
    gateway.stash[RESPONSE_STORE] = store


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    store = gateway.stash.pop(RESPONSE_STORE, None)
    if store is not None:
        await store.close()


@hookimpl
def relaygate_admit_request(ctx: RequestContext, route: Route) -> Awaitable[None] | None:
    # Plain def: most requests need nothing, and an unawaited coroutine would warn when an
    # earlier admission hook refuses the request.
    store = ctx.gateway.stash.get(RESPONSE_STORE)
    if ctx.api.id != "openai.responses" or route.passthrough or ctx.body is None or store is None:
        return None
    return _expand(ctx, store)


async def _expand(ctx: RequestContext, store: ResponseStore) -> None:
    assert ctx.body is not None
    key_id = ctx.principal.key_id if ctx.principal else ""
    body = ctx.body
    items = as_items(body.get("input"))
    prev = body.get("previous_response_id")
    if prev:
        earlier = await store.get(str(prev), key_id)
        if earlier is None:
            raise RequestRejected(f"Previous response with id '{prev}' not found.", param="previous_response_id")
        items = earlier + items
        body = {k: v for k, v in body.items() if k != "previous_response_id"}
        body["input"] = items
        ctx.body = body
    if body.get("store") is not False:
        ctx.stash[_INPUT] = items


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> Awaitable[None] | None:
    items = ctx.stash.get(_INPUT)
    store = ctx.gateway.stash.get(RESPONSE_STORE)
    if items is None or record.status != 200 or store is None:
        return None
    resp = ctx.stash.get(TRANSLATED_RESPONSE, lambda: None)()
    if not isinstance(resp, dict) or not str(resp.get("id", "")).startswith("resp_"):
        return None
    ctx.stash.pop(_INPUT, None)
    return store.put(resp["id"], ctx.principal.key_id if ctx.principal else "", items + list(resp.get("output") or []))
