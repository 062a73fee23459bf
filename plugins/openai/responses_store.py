"""Stateful Responses for every model: ``previous_response_id`` on translated endpoints.

When a Responses request is served by a provider that keeps no state (chat
servers, Anthropic, Gemini), the gateway keeps the conversation itself: after
each answer it stores the full input plus the output items under the
``resp_`` id it returned, scoped to the key that created it, in the Responses
store (plugins/openai/responses_db.py: SQLite beside the ledger, or
PostgreSQL; ``storage.responses``: retention_days, max_items). A later
request naming that id gets the stored items prepended to its input before
translation; any other key gets 404. ``store: false`` (what Codex sends)
stores nothing. OpenAI-native passthrough routes keep their state at OpenAI;
plugins/openai/response_owners.py makes sure only the creating key reaches it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import orjson

from plugins.openai.responses_db import ResponsesDb, ResponsesStoreConfig, make_responses_db
from proxy import hookimpl
from proxy.hooks import for_apis
from proxy.errors import ClientError
from proxy.stash import StashKey
from proxy.upstream import TRANSLATED_RESPONSE

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway
    from proxy.sections import Spec

PURGE_EVERY_WRITES = 500
#: how long a lookup that missed waits for the same key's answers still being recorded
UNSETTLED_WAIT_SECONDS = 5.0
OWNER_CACHE_SIZE = 100_000


class ResponseNotFound(ClientError):
    """404 for a response id this key may not see: never issued, another key's, or expired read alike,
    so the answer tells nothing about ids of other keys."""

    status = 404
    type = "not_found_error"
    code = "previous_response_not_found"          # the code Open Responses clients act on

    def __init__(self, response_id: str, param: str | None = "previous_response_id") -> None:
        super().__init__(f"Previous response with id '{response_id}' not found.", param=param)


class ResponseStore:
    """The Responses state of one gateway process over a :class:`ResponsesDb`, with retention."""

    def __init__(self, db: ResponsesDb, retention_days: float, max_items: int) -> None:
        self.db = db
        self.retention_s = retention_days * 86400
        self.max_items = max_items
        self._writes = 0
        #: response id -> (owner key id, when recorded): ids never change hands, so a hit is final
        self._owners: dict[str, tuple[str, float]] = {}
        #: key id -> answers of that key not recorded yet. A client may continue a stream the
        #: instant its last event arrives, before the answer is stored: a miss waits for these.
        self.unsettled: dict[str, set[asyncio.Event]] = {}

    async def settled_get(self, response_id: str, key_id: str) -> list[dict[str, Any]] | None:
        # Taken before the lookup: an answer that settles while the lookup runs (its event set and
        # gone from `unsettled` by the time the lookup misses) is still waited for and looked up again.
        pending = list(self.unsettled.get(key_id, ()))
        found = await self.get(response_id, key_id)
        if found is None and pending:
            waits = [asyncio.create_task(e.wait()) for e in pending]
            await asyncio.wait(waits, timeout=UNSETTLED_WAIT_SECONDS)
            for w in waits:
                w.cancel()
            found = await self.get(response_id, key_id)
        return found

    def horizon(self) -> float:
        return time.time() - self.retention_s

    async def open(self) -> None:
        await self.db.open()
        await self.db.purge(self.horizon())

    async def close(self) -> None:
        await self.db.close()

    async def _wrote(self) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY_WRITES == 0:
            await self.db.purge(self.horizon())

    async def get(self, response_id: str, key_id: str) -> list[dict[str, Any]] | None:
        raw = await self.db.items(response_id, key_id, self.horizon())
        if raw is None:
            return None
        items: list[dict[str, Any]] = orjson.loads(raw)
        return items

    async def put(self, response_id: str, key_id: str, items: list[dict[str, Any]]) -> None:
        await self.claim(response_id, key_id)
        await self.db.put_items(response_id, key_id, orjson.dumps(items[-self.max_items:]))
        await self._wrote()

    async def owner(self, response_id: str) -> str | None:
        """The key that created *response_id* through this gateway, or None (never seen, or expired)."""
        cached = self._owners.get(response_id)
        if cached is not None and cached[1] >= self.horizon():
            return cached[0]
        found = await self.db.owner(response_id, self.horizon())
        if found is not None:
            self._remember(response_id, found)
        return found

    def remember(self, response_id: str, key_id: str) -> None:
        """Know the owner in this process at once (before the database write lands)."""
        self._remember(response_id, key_id)

    def _remember(self, response_id: str, key_id: str) -> None:
        if len(self._owners) >= OWNER_CACHE_SIZE:
            self._owners.clear()
        self._owners.setdefault(response_id, (key_id, time.time()))

    async def claim(self, response_id: str, key_id: str) -> None:
        """Record that *key_id* created *response_id* (the first claim wins)."""
        self._remember(response_id, key_id)
        await self.db.set_owner(response_id, key_id)
        await self._wrote()


#: open from start-up to shutdown
RESPONSE_STORE: StashKey[ResponseStore] = StashKey("responses_store")
#: the full input of a request to store with its answer (absent for ``store: false``)
_INPUT: StashKey[list[dict[str, Any]]] = StashKey("responses_store.input")
_UNSETTLED: StashKey[asyncio.Event] = StashKey("responses_store.unsettled")


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
    store = ResponseStore(make_responses_db(gateway.settings), cfg.retention_days, cfg.max_items)
    await store.open()
    gateway.stash[RESPONSE_STORE] = store


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    store = gateway.stash.pop(RESPONSE_STORE, None)
    if store is not None:
        await store.close()


@hookimpl
@for_apis("openai.responses")
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
        earlier = await store.settled_get(str(prev), key_id)
        if earlier is None:
            raise ResponseNotFound(str(prev))
        items = earlier + items
        # The id stays in the body: the translated answer echoes it; translation drops it
        # (responses_client.request_to_chat), the conversation being in the input now.
        body = {**body, "input": items}
        ctx.body = body
    if body.get("store") is not False:
        ctx.stash[_INPUT] = items
        ctx.stash[_UNSETTLED] = settled = asyncio.Event()
        store.unsettled.setdefault(key_id, set()).add(settled)


@hookimpl
@for_apis("openai.responses")        # _INPUT is only set by admit_request, for this format
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


@hookimpl
@for_apis("openai.responses")
def relaygate_request_finished(ctx: RequestContext) -> None:
    settled = ctx.stash.pop(_UNSETTLED, None)
    store = ctx.gateway.stash.get(RESPONSE_STORE)
    if settled is None or store is None:
        return
    settled.set()                                  # recorded (record_usage ran) or never will be
    key_id = ctx.principal.key_id if ctx.principal else ""
    if (pending := store.unsettled.get(key_id)) is not None:
        pending.discard(settled)
        if not pending:
            del store.unsettled[key_id]
