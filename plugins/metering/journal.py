"""The crash journal: attempts in flight when the process died still get a ledger row.

A write-ahead journal beside the ledger (``<ledger path>.journal/<pid>.jnl``,
``storage.ledger.journal``): one small line when an attempt starts, and
"ended" lines for the rows the ledger writer has made durable (in the store
or the spool). On start-up the starts without an end become rows with
``outcome=incomplete`` (the prompt billed by estimate, as for any stream cut
before its usage), and the journal is removed once those rows are durable.

Durability trade-off: lines are written with plain ``os.write``, never
fsync'd. They are in the kernel's page cache at once, so they survive what
the journal is for: SIGKILL, the OOM killer, a crash of the process. A kernel
crash or power loss may lose the last lines (an fsync per request would cost
milliseconds). Off the request path: a start only appends to a list; the
lines are rendered and written by one ``os.write`` on the next event-loop
iteration, for every attempt that started meanwhile (before the provider has
even been sent the request). Ends are written per ledger batch.

One file per process, so pre-forked workers never interleave; a worker
starting up replays the files of processes that are gone (claiming each by a
rename first, so two workers never both replay one).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from proxy.context import AGENT_KIND, AGENT_SESSION_ID, UsageRecord
from proxy.usage import Usage
from proxy.stream_end import INCOMPLETE

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route
    from proxy.upstream import Attempt

log = logging.getLogger("relaygate.journal")

#: a journal is rewritten with only its open attempts once it grows past this
COMPACT_BYTES = 4 << 20
SUFFIX = ".jnl"


class Journal:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._size = 0
        self._starts: list[tuple[RequestContext, Route, Attempt]] = []
        self._open: dict[tuple[str, int], bytes] = {}     # (request_id, attempt) -> its start line
        self._loop = asyncio.get_running_loop()

    # -- the request path: one list append
    def started(self, ctx: RequestContext, route: Route, att: Attempt) -> None:
        if not self._starts:
            self._loop.call_soon(self._write_starts)
        self._starts.append((ctx, route, att))

    def _write_starts(self) -> None:
        starts, self._starts = self._starts, []
        lines = []
        for ctx, route, att in starts:
            line = _start_line(ctx, route, att)
            self._open[(ctx.request_id, att.number)] = line
            lines.append(line)
        self._append(b"".join(lines))

    # -- the ledger writer: rows now in the store or the spool
    def ended(self, rows: list[tuple[Any, ...]]) -> None:
        if self._starts:
            self._write_starts()       # a start must never follow its own end in the file
        ends = []
        for row in rows:
            if self._open.pop((row[0], row[1]), None) is not None:
                ends.append(b"-%s %d\n" % (row[0].encode(), row[1]))
        if ends:
            self._append(b"".join(ends))
        if self._size > COMPACT_BYTES:
            self._compact()

    def _append(self, data: bytes) -> None:
        try:
            os.write(self._fd, data)
            self._size += len(data)
        except OSError as exc:       # a full disk must not fail requests; the ledger still has them
            log.warning("crash journal write failed: %s", exc)

    def _compact(self) -> None:
        """Rewrite the file with the open attempts only (atomically: a crash keeps one or the other)."""
        tmp = self.path.with_suffix(".tmp")
        data = b"".join(self._open.values())
        tmp.write_bytes(data)
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._size = len(data)

    def close(self) -> None:
        if self._starts:
            self._write_starts()
        os.close(self._fd)
        if not self._open:
            self.path.unlink(missing_ok=True)


def _start_line(ctx: RequestContext, route: Route, att: Attempt) -> bytes:
    p = ctx.principal
    estimate = ctx.api.estimate_input_tokens(ctx.body or {}, ctx.raw_body)
    return orjson.dumps([
        ctx.request_id, att.number, ctx.started_wall, ctx.endpoint_name, route.served.name, route.provider.name,
        route.upstream_model, ctx.surface, ctx.stream, p.key_id if p else "", p.owner if p else "",
        p.team if p else "", ctx.stash.get(AGENT_KIND, ""), ctx.stash.get(AGENT_SESSION_ID, ""), estimate,
        ctx.labels or {},
    ]) + b"\n"


#: a replayed record -> its cost (None: no price known), priced like a live one (plugins/metering/pricing)
Prices = Callable[[UsageRecord], float | None]


def _record(fields: list[Any], prices: Prices) -> UsageRecord:
    (rid, attempt, started, endpoint, served, provider, model, surface, stream, key_id, owner, team, agent,
     session, estimate, labels) = fields
    record = UsageRecord(
        request_id=rid, attempt=attempt, started_wall=started, endpoint=endpoint, served_model=served,
        provider=provider, provider_model=model, surface=surface, status=0, stream=stream,
        usage=Usage(input_tokens=estimate), latency_s=0.0, ttft_s=None, upstream_s=0.0,
        error="gateway_died", key_id=key_id, owner=owner, team=team, agent=agent, session_id=session,
        outcome=INCOMPLETE, labels=labels)
    record.cost_usd = prices(record)
    return record


def read_unfinished(path: Path, prices: Prices = lambda _r: None) -> list[UsageRecord]:
    """The attempts a journal file started and never ended; a torn last line is skipped."""
    starts: dict[tuple[str, int], list[Any]] = {}
    for line in path.read_bytes().split(b"\n"):
        try:
            if line.startswith(b"["):
                fields = orjson.loads(line)
                starts[(fields[0], fields[1])] = fields
            elif line.startswith(b"-"):
                rid, _, attempt = line[1:].partition(b" ")
                starts.pop((rid.decode(), int(attempt)), None)
        except (ValueError, IndexError):
            continue                 # the write the process died in
    return [_record(f, prices) for f in starts.values()]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False                 # our own pid from a previous life (containers reuse pid 1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_orphans(directory: Path) -> list[Path]:
    """Journal files of processes that are gone, renamed to be ours to replay."""
    if not directory.is_dir():
        return []
    claimed = []
    for path in sorted(directory.iterdir()):
        owner = path.name.rsplit("-", 1)[-1].split(".")[0]       # "<pid>.jnl" or "<pid>.jnl.replay-<pid>"
        if SUFFIX not in path.name or not owner.isdigit() or _alive(int(owner)):
            continue
        target = directory / f"{path.name.split('.')[0]}{SUFFIX}.replay-{os.getpid()}"
        try:
            os.rename(path, target)
        except FileNotFoundError:
            continue                 # another worker claimed it first
        claimed.append(target)
    return claimed
