"""A continuation's lookup and the previous answer's recording, interleaved the way a loaded machine can.

The second request's first lookup misses while the first answer is being stored; the first
request then finishes (its "settled" event set and removed from ``unsettled``) before the miss
returns. ``settled_get`` must still find the answer: what it waits for is taken before the lookup.
"""

from __future__ import annotations

import asyncio

import orjson

from plugins.openai.responses_store import ResponseStore


class SlowFirstReadDb:
    """In memory; the first ``items`` read misses and, while it is in flight, the answer lands and settles."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.reads = 0
        self.during_first_read: asyncio.Event | None = None
        self.first_read_done = asyncio.Event()

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def purge(self, before: float) -> None: ...
    async def owner(self, response_id: str, after: float) -> str | None: return None
    async def set_owner(self, response_id: str, key_id: str) -> None: ...

    async def items(self, response_id: str, key_id: str, after: float) -> bytes | None:
        self.reads += 1
        if self.reads == 1:
            found = self.stored.get(response_id)       # read before the write lands...
            assert self.during_first_read is not None
            self.during_first_read.set()
            await self.first_read_done.wait()          # ...and returned after it settled
            return found
        return self.stored.get(response_id)

    async def put_items(self, response_id: str, key_id: str, items: bytes) -> None:
        self.stored[response_id] = items


async def test_an_answer_that_settles_during_the_lookup_is_found() -> None:
    db = SlowFirstReadDb()
    store = ResponseStore(db, retention_days=1, max_items=100)    # type: ignore[arg-type]
    settled = asyncio.Event()
    store.unsettled["k"] = {settled}                  # the first request: admitted, not recorded yet
    db.during_first_read = asyncio.Event()

    lookup = asyncio.create_task(store.settled_get("resp_1", "k"))
    await db.during_first_read.wait()
    # The first request finishes meanwhile: recorded, settled, forgotten (request_finished).
    await store.put("resp_1", "k", [{"type": "message", "role": "user", "content": "hi"}])
    settled.set()
    del store.unsettled["k"]
    db.first_read_done.set()

    found = await asyncio.wait_for(lookup, 5)
    assert found == orjson.loads(db.stored["resp_1"])
    assert db.reads == 2                              # looked up again after the wait
