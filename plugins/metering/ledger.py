"""The usage ledger: one row per provider attempt, written in batches off the request path.

``record_usage`` only appends a tuple to a list. A background task writes
the list every ``flush_interval_seconds`` (or sooner when it fills); a failed
write keeps the rows and retries. Shutdown flushes everything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from plugins.health import CHECKS
from plugins.metering.sqlite_store import SqliteStore
from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.ledger")
STATE = "plugins.metering.ledger"


class Store(Protocol):
    async def open(self) -> None: ...
    async def write(self, rows: list[tuple[Any, ...]]) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


def row_of(r: UsageRecord) -> tuple[Any, ...]:
    u = r.usage
    return (
        r.request_id, r.attempt, r.started_wall, r.key_id, r.owner, r.team, r.endpoint, r.served_model,
        r.provider, r.provider_model, r.surface, r.status, r.error, int(r.stream), int(r.disconnected),
        u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_creation_tokens, u.reasoning_tokens,
        u.total_tokens, r.latency_s * 1000, None if r.ttft_s is None else r.ttft_s * 1000,
        r.upstream_s * 1000, r.cost_usd, r.extra.get("agent", ""), r.extra.get("session_id", ""),
    )


class LedgerWriter:
    def __init__(self, store: Store, flush_interval: float, batch_size: int) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.pending: list[tuple[Any, ...]] = []
        self.oldest: float | None = None          # monotonic time of the oldest pending row
        self.written = 0
        self.write_errors = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, row: tuple[Any, ...]) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append(row)
        if len(self.pending) >= self.batch_size:
            self._wake.set()

    def lag_seconds(self) -> float:
        return time.monotonic() - self.oldest if self.oldest is not None and self.pending else 0.0

    async def start(self) -> None:
        await self.store.open()
        self._task = asyncio.create_task(self._run(), name="relaygate-ledger")

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self.pending:
                batch = self.pending[:self.batch_size]
                try:
                    await self.store.write(batch)
                except Exception:
                    self.write_errors += 1
                    log.exception("ledger write of %d rows failed; keeping them for the next try", len(batch))
                    return
                del self.pending[:len(batch)]
                self.written += len(batch)
                self.oldest = time.monotonic() if self.pending else None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()
        if self.pending:
            log.error("ledger: %d rows could not be written at shutdown", len(self.pending))
        await self.store.close()


def make_store(gateway: Gateway) -> Store:
    cfg = gateway.settings.storage.ledger
    return SqliteStore(cfg.path)


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    cfg = gateway.settings.storage.ledger
    writer = LedgerWriter(make_store(gateway), cfg.flush_interval_seconds, cfg.batch_size)
    await writer.start()
    gateway.state[STATE] = writer
    gateway.state.setdefault(CHECKS, {})["ledger"] = writer.store.ping


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    writer: LedgerWriter | None = gateway.state.get(STATE)
    if writer is not None:
        await writer.stop()


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    writer: LedgerWriter | None = ctx.gateway.state.get(STATE)
    if writer is not None:
        writer.add(row_of(record))
