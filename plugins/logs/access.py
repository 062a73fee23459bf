"""The access log: one structured line per request, never bodies, never secrets.

Fields: request_id, surface, endpoint, served_model, provider, status, stream,
tokens, latency and time to first token, key id and owner (names, not
secrets), client address, and the trace id when tracing is on. On by default
(``server.access_log``). The request path only gathers the fields; a thread encodes and writes
the lines in batches (:mod:`plugins.logs.writer`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from plugins.logs.writer import LineWriter
from proxy import hookimpl
from proxy.context import TRACE_ID
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.access")
#: the request's last attempt: its usage goes into the line
_LAST_RECORD: StashKey[UsageRecord] = StashKey("access_log.last_record")
#: the thread that writes the lines, from start-up to shutdown
WRITER: StashKey[LineWriter] = StashKey("access_log.writer")


@hookimpl
def relaygate_startup(gateway: Gateway) -> None:
    gateway.stash[WRITER] = LineWriter(log, "request")


@hookimpl
def relaygate_shutdown(gateway: Gateway) -> None:
    writer = gateway.stash.pop(WRITER, None)
    if writer is not None:
        writer.stop()                          # every pending line is written


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    ctx.stash[_LAST_RECORD] = record


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    writer = ctx.gateway.stash.get(WRITER)
    if writer is None or not ctx.gateway.settings.server.access_log or not log.isEnabledFor(logging.INFO):
        return
    route = ctx.route
    record = ctx.stash.get(_LAST_RECORD)
    fields: dict[str, Any] = {
        "request_id": ctx.request_id,
        "method": ctx.request.method,
        "path": ctx.request.path,
        "surface": ctx.surface,
        "endpoint": ctx.endpoint_name,
        "served_model": route.served.name if route else "",
        "provider": route.provider.name if route else "",
        "status": ctx.status,
        "stream": ctx.stream,
        "latency_ms": round((time.perf_counter() - ctx.started) * 1000, 3),
        "key_id": ctx.principal.key_id if ctx.principal else "",
        "owner": ctx.principal.owner if ctx.principal else "",
        "client": ctx.request.remote,
    }
    if record is not None:
        u = record.usage
        fields.update(attempts=record.attempt, input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                      cached_input_tokens=u.cached_input_tokens, reasoning_tokens=u.reasoning_tokens,
                      ttft_ms=None if record.ttft_s is None else round(record.ttft_s * 1000, 3),
                      cost_usd=record.cost_usd, error=record.error or None)
    if ctx.error_reason:
        fields["error"] = ctx.error_reason
    if trace_id := ctx.stash.get(TRACE_ID):
        fields["trace_id"] = trace_id
    writer.add(time.time(), fields)
