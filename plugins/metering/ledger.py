"""The usage ledger: one row per provider attempt, written in batches off the request path.

``record_usage`` only appends a tuple to a list. A background task writes
the list every ``flush_interval_seconds`` (or sooner when it fills). A row is
never dropped: a batch the store refuses (PostgreSQL down, timeout) goes to a
local fsync'd spool (:mod:`plugins.metering.spool`) and the writer pauses the
store for ``spool_retry_seconds``, spooling directly meanwhile; afterwards it
ships the spool back, idempotently by (request_id, attempt). Too many rows in
memory also spill. Shutdown flushes to the store, or else to the spool.

The same writer class carries sampled payloads (``payloads`` table) for
:mod:`plugins.payloads.logging`: its items are callables that render the row
at flush time, so redaction runs off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from plugins.metering.config import LedgerConfig
from plugins.metering.journal import Journal, claim_orphans, read_unfinished
from plugins.metering.pricing import billed, price_source
from plugins.metering.spool import Spool, load
from plugins.metering.sqlite_store import SqliteStore
from proxy import hookimpl
from proxy.errors import GatewayError
from proxy.gateway import DEPENDENCY_CHECKS
from proxy.stash import StashKey
from proxy.upstream import ATTEMPT_STARTED

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.gateway import Gateway
    from proxy.sections import Spec

log = logging.getLogger("relaygate.ledger")
RETENTION_INTERVAL = 3600.0           # seconds between retention deletes

Rows = list[tuple[Any, ...]]


class Store(Protocol):
    async def open(self) -> None: ...
    async def write(self, rows: Rows) -> None: ...
    async def write_payloads(self, rows: Rows) -> None: ...
    async def ping(self) -> bool: ...
    async def delete_before(self, ts: float) -> int: ...
    async def close(self) -> None: ...


def row_of(r: UsageRecord) -> tuple[Any, ...]:
    u = r.usage
    return (
        r.request_id, r.attempt, r.started_wall, r.key_id, r.owner, r.team, r.endpoint, r.served_model,
        r.provider, r.provider_model, r.surface, r.status, r.error, int(r.stream), int(r.disconnected),
        u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_creation_tokens, u.reasoning_tokens,
        u.total_tokens, r.latency_s * 1000, None if r.ttft_s is None else r.ttft_s * 1000,
        r.upstream_s * 1000, r.cost_usd, r.agent, r.session_id, r.outcome,
        orjson.dumps(r.labels).decode() if r.labels else "", r.trace_id,
        u.cache_creation_1h_tokens, int(r.cache_hit), r.saved_cost_usd, r.price_source, r.price_version,
    )


def _render(item: Any) -> tuple[Any, ...]:
    return item() if callable(item) else item


class LedgerWriter:
    def __init__(self, store: Store, flush_interval: float, batch_size: int, *,
                 write: Callable[[Rows], Awaitable[None]] | None = None, spool: Spool | None = None,
                 max_pending: int = 100_000, retry_seconds: float = 5.0, write_timeout: float = 10.0,
                 name: str = "ledger") -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.write = write or store.write
        self.spool = spool
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        self.write_timeout = write_timeout
        self.name = name
        #: told of every batch once it is in the store or the spool (the crash journal's ends)
        self.on_durable: Callable[[Rows], None] | None = None
        self.pending: list[Any] = []
        self.oldest: float | None = None          # monotonic time of the oldest pending row
        self.written = 0
        self.write_errors = 0
        self.store_down_until = 0.0               # monotonic; until then batches go straight to the spool
        self.spool_backlog = spool is not None    # the spool may hold rows (a crash, a previous run)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False

    def add(self, row: Any) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
            self._wake.set()                  # an idle writer starts its flush interval now
        self.pending.append(row)
        if len(self.pending) >= self.batch_size:
            self._wake.set()
        if len(self.pending) > self.max_pending and self.spool is not None:
            # Bound memory while the store is slow or down (rare: a blocking fsync is acceptable here).
            batch, self.pending[:] = self.pending[:], []
            self.oldest = None
            rows = [_render(x) for x in batch]
            self.spool.append(rows)
            self.spool_backlog = True
            self._durable(rows)

    def _durable(self, rows: Rows) -> None:
        if self.on_durable is not None:
            self.on_durable(rows)

    def lag_seconds(self) -> float:
        return time.monotonic() - self.oldest if self.oldest is not None and self.pending else 0.0

    @property
    def store_available(self) -> bool:
        return time.monotonic() >= self.store_down_until

    async def start(self, open_store: bool = True) -> None:
        if open_store:
            await self.store.open()
        self._task = asyncio.create_task(self._run(), name=f"relaygate-{self.name}")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if self.spool_backlog and self.store_available:
                    await self.ship_spool()
            except Exception:               # never let the writer die; rows are in the spool or pending
                log.exception("%s: shipping the spool failed", self.name)
            if not self.pending and not self.spool_backlog:
                # Idle: no timer ticks until the first row comes (an idle gateway's writers sleep).
                await self._wake.wait()
                if self._stopping:
                    return
            self._wake.clear()                 # (a first row added during the last flush must not cut the interval)
            wait = min(self.flush_interval, self.retry_seconds) if self.spool_backlog else self.flush_interval
            if len(self.pending) < self.batch_size:      # gather the interval's rows (a full batch goes now)
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:
                log.exception("%s writer iteration failed", self.name)

    async def _write(self, rows: Rows) -> bool:
        try:
            async with asyncio.timeout(self.write_timeout):
                await self.write(rows)
            return True
        except Exception as exc:
            self.write_errors += 1
            self.store_down_until = time.monotonic() + self.retry_seconds
            log.warning("%s write of %d rows failed (%s); %s", self.name, len(rows), type(exc).__name__,
                        "spooling them" if self.spool is not None else "keeping them for the next try")
            return False

    async def flush(self, *, force_try: bool = False) -> None:
        """Write every pending row: to the store when it is up, else to the spool."""
        async with self._lock:
            while self.pending:
                batch = self.pending[:self.batch_size]
                del self.pending[:len(batch)]         # owned by this flush now: add() may spill the rest
                self.oldest = time.monotonic() if self.pending else None
                rows = [_render(x) for x in batch]
                try:
                    ok = (force_try or self.store_available or self.spool is None) and await self._write(rows)
                except asyncio.CancelledError:
                    self.pending[:0] = rows           # cancelled mid-write: keep the batch for the next flush
                    self.oldest = time.monotonic()
                    raise
                if ok:
                    self.written += len(rows)
                    self._durable(rows)
                    continue
                if self.spool is None:
                    self.pending[:0] = rows
                    self.oldest = time.monotonic()
                    return
                await asyncio.to_thread(self.spool.append, rows)
                self.spool_backlog = True
                self._durable(rows)
                force_try = False

    async def ship_spool(self) -> int:
        """Send spooled batches (any worker's) to the store; stop at the first failure."""
        assert self.spool is not None
        shipped = 0
        async with self._lock:
            for path in await asyncio.to_thread(self.spool.files):
                rows = await asyncio.to_thread(load, path)
                for i in range(0, len(rows), self.batch_size):
                    if not await self._write(rows[i:i + self.batch_size]):
                        return shipped
                self.spool.done(path, len(rows))
                shipped += len(rows)
                self.written += len(rows)
            self.spool_backlog = False
        if shipped:
            log.info("%s: shipped %d spooled rows", self.name, shipped)
        return shipped

    async def stop(self, close_store: bool = True) -> None:
        if self._task is not None:
            # Never cancel the writer mid-write: a batch it holds would be lost. Let it finish.
            self._stopping = True
            self._wake.set()
            await self._task
        await self.flush(force_try=True)
        if self.spool is not None and self.store_available:
            await self.ship_spool()
        if self.pending:
            log.error("%s: %d rows could not be written at shutdown", self.name, len(self.pending))
        if close_store:
            await self.store.close()


#: the usage ledger's writer (one row per provider attempt)
LEDGER: StashKey[LedgerWriter] = StashKey("ledger")
#: the writer of sampled payloads (plugins/payloads), to the same store
PAYLOAD_WRITER: StashKey[LedgerWriter] = StashKey("ledger.payloads")
#: deletes rows older than ``retention_days`` every RETENTION_INTERVAL
RETENTION_TASK: StashKey[asyncio.Task[None]] = StashKey("ledger.retention_task")


def make_store(gateway: Gateway) -> Store:
    cfg = gateway.settings.section(LedgerConfig)
    if cfg.backend == "postgres":
        from plugins.metering.postgres_store import PostgresStore
        assert cfg.postgres_dsn is not None
        return PostgresStore(cfg.postgres_dsn.get_secret_value(), cfg.postgres_schema,
                             command_timeout=cfg.write_timeout_seconds)
    return SqliteStore(cfg.path)


async def apply_retention(gateway: Gateway) -> int:
    """Delete ledger and payload rows older than ``retention_days``; returns ledger rows deleted."""
    writer = gateway.stash.get(LEDGER)
    days = gateway.settings.section(LedgerConfig).retention_days
    if writer is None or days is None:
        return 0
    deleted = await writer.store.delete_before(time.time() - days * 86400)
    if deleted:
        log.info("ledger retention: deleted %d rows older than %d days", deleted, days)
    return deleted


async def _retention_loop(gateway: Gateway) -> None:
    while True:
        try:
            await apply_retention(gateway)
        except Exception as exc:            # the store may be down; try again next time
            log.warning("ledger retention failed: %s", type(exc).__name__)
        await asyncio.sleep(RETENTION_INTERVAL)


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"storage.ledger": LedgerConfig}


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    cfg = gateway.settings.section(LedgerConfig)
    store = make_store(gateway)
    spool_dir = cfg.spool_dir or cfg.path + ".spool"
    opts = dict(max_pending=cfg.max_pending_rows, retry_seconds=cfg.spool_retry_seconds,
                write_timeout=cfg.write_timeout_seconds)
    writer = LedgerWriter(store, cfg.flush_interval_seconds, cfg.batch_size,
                          spool=Spool(spool_dir, "ledger"), **opts)   # type: ignore[arg-type]
    payloads = LedgerWriter(store, cfg.flush_interval_seconds, cfg.batch_size, write=store.write_payloads,
                            spool=Spool(spool_dir, "payloads"), name="payloads", **opts)  # type: ignore[arg-type]
    await writer.start()
    await payloads.start(open_store=False)
    gateway.stash[LEDGER] = writer
    gateway.stash[PAYLOAD_WRITER] = payloads
    gateway.stash[RETENTION_TASK] = asyncio.create_task(_retention_loop(gateway))
    if cfg.journal:
        await start_journal(gateway, writer, Path(cfg.path + ".journal"))
    # The spool absorbs a store outage: degraded, never unready.
    gateway.stash.setdefault(DEPENDENCY_CHECKS, {})["ledger"] = writer.store.ping


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    task = gateway.stash.pop(RETENTION_TASK, None)
    if task is not None:
        task.cancel()
    payloads = gateway.stash.get(PAYLOAD_WRITER)
    if payloads is not None:
        await payloads.stop(close_store=False)
    await billed()                 # rows whose prices the catalogue helper is still answering
    writer = gateway.stash.get(LEDGER)
    if writer is not None:
        await writer.stop()
    journal = gateway.stash.pop(JOURNAL, None)
    if journal is not None:
        journal.close()


#: the crash journal (plugins/metering/journal.py), open from start-up to shutdown
JOURNAL: StashKey[Journal] = StashKey("ledger.journal")


def _price_table(gateway: Gateway) -> Callable[[UsageRecord], float | None]:
    """Replayed rows are priced as live ones: the served model's config prices, else the catalogue."""
    runtime = gateway.runtime

    def cost(record: UsageRecord) -> float | None:
        provider = runtime.providers.get(record.provider)
        try:
            endpoint, _ = runtime.find_endpoint(record.endpoint)
        except GatewayError:
            endpoint = None                   # renamed or removed since the crash
        served = next((sm for sm in endpoint.served_models if sm.name == record.served_model), None) \
            if endpoint is not None else None
        ptype, base_url = (provider.config.type, provider.base_url) if provider is not None else ("", "")
        return price_source(ptype, base_url, record.provider_model, served.prices if served else {}).cost(record.usage)
    return cost


async def start_journal(gateway: Gateway, writer: LedgerWriter, directory: Path) -> None:
    """Replay what crashed processes left in flight into ledger rows, then journal this process."""
    orphans = await asyncio.to_thread(claim_orphans, directory)
    if orphans:
        records = [r for path in orphans
                   for r in await asyncio.to_thread(read_unfinished, path, _price_table(gateway))]
        for record in records:
            writer.add(row_of(record))
        await writer.flush()                  # durable (store or spool) before the journals go
        for path in orphans:
            path.unlink(missing_ok=True)
        if records:
            log.warning("crash journal: %d attempts were in flight when a previous process died; "
                        "recorded with outcome=incomplete", len(records))
    journal = Journal(directory)
    writer.on_durable = journal.ended
    gateway.stash[JOURNAL] = journal
    gateway.stash[ATTEMPT_STARTED] = journal.started


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    writer = ctx.gateway.stash.get(LEDGER)
    if writer is not None:
        writer.add(row_of(record))
