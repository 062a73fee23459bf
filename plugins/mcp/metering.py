"""Every tool call metered: a ledger row, Prometheus series per server and tool, a span.

The ledger row is an ordinary row of the ``ledger`` table (plugins/metering), so
``relaygate usage --by endpoint`` and the reports see tool calls next to model calls:

    endpoint       "mcp/<server>"          served_model, provider_model   the tool
    provider       "<server>"              surface                         "mcp"
    status         200, or the refusal's HTTP-like status (403 denied, 429 limited, 502 upstream)
    outcome        ok | tool_error | error | denied | rate_limited | guardrail | incomplete
    latency_ms     the call's duration     labels   mcp_method, request_bytes, response_bytes

Never an argument, a result or a credential: only sizes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram

from plugins.metering.ledger import LEDGER, row_of
from plugins.metrics.definitions import DURATION_BUCKETS
from plugins.metrics.prometheus import setup as metrics_setup
from plugins.tracing.config import TELEMETRY
from proxy.context import AGENT_KIND, AGENT_SESSION_ID, TRACE_ID, UsageRecord
from proxy.stash import StashKey
from proxy.usage import Usage

if TYPE_CHECKING:
    from plugins.mcp.policy import Caller
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

OUTCOME_STATUS = {"ok": 200, "tool_error": 200, "error": 502, "denied": 403, "rate_limited": 429,
                  "guardrail": 400, "incomplete": 499}


@dataclass
class ToolMetrics:
    calls: Counter
    duration: Histogram
    bytes: Counter


_TOOL_METRICS: StashKey[ToolMetrics] = StashKey("mcp.tool_metrics")


def tool_metrics(gateway: Gateway) -> ToolMetrics:
    found = gateway.stash.get(_TOOL_METRICS)
    if found is None:
        registry = metrics_setup(gateway).m.registry
        found = gateway.stash[_TOOL_METRICS] = ToolMetrics(
            Counter("relaygate_mcp_tool_calls", "MCP tool calls through the gateway, by outcome.",
                    ("server", "tool", "outcome"), registry=registry),
            Histogram("relaygate_mcp_tool_call_duration_seconds", "Duration of MCP tool calls.",
                      ("server", "tool"), buckets=DURATION_BUCKETS, registry=registry),
            Counter("relaygate_mcp_tool_bytes", "Bytes of MCP tool calls (direction: request, response).",
                    ("server", "tool", "direction"), registry=registry))
    return found


@dataclass
class ToolCall:
    """One tools/call in flight, from the client's message to the upstream's answer."""

    server: str
    tool: str
    caller: Caller
    request_bytes: int
    started: float = field(default_factory=time.perf_counter)
    started_wall: float = field(default_factory=time.time)
    seq: int = 0
    masked: bool = False              # guardrails changed the arguments: the message is re-encoded


def record(ctx: RequestContext, call: ToolCall, outcome: str, response_bytes: int = 0, error: str = "") -> None:
    """The ledger row, the metrics and (tracing on) the span of one finished tool call."""
    gateway = ctx.gateway
    duration = time.perf_counter() - call.started
    status = OUTCOME_STATUS.get(outcome, 200)
    labels = {"mcp_method": "tools/call", "request_bytes": str(call.request_bytes),
              "response_bytes": str(response_bytes)}
    record = UsageRecord(
        request_id=ctx.request_id, attempt=call.seq, started_wall=call.started_wall, endpoint=f"mcp/{call.server}",
        served_model=call.tool, provider=call.server, provider_model=call.tool, surface="mcp", status=status,
        stream=False, usage=Usage(), latency_s=duration, ttft_s=None, upstream_s=duration, error=error[:200],
        key_id=call.caller.key_id, owner=call.caller.owner, team=call.caller.team,
        agent=ctx.stash.get(AGENT_KIND, ""), session_id=ctx.stash.get(AGENT_SESSION_ID, ""),
        trace_id=ctx.stash.get(TRACE_ID, ""), outcome=outcome, labels=labels)
    writer = gateway.stash.get(LEDGER)
    if writer is not None:
        writer.add(row_of(record))
    m = tool_metrics(gateway)
    tool = call.tool if outcome not in ("denied",) else "(denied)"     # a denied name is the client's choice
    m.calls.labels(call.server, tool, outcome).inc()
    m.duration.labels(call.server, tool).observe(duration)
    m.bytes.labels(call.server, tool, "request").inc(call.request_bytes)
    m.bytes.labels(call.server, tool, "response").inc(response_bytes)
    _span(ctx, call, outcome, duration, response_bytes)


def _span(ctx: RequestContext, call: ToolCall, outcome: str, duration: float, response_bytes: int) -> None:
    telemetry: Any = ctx.gateway.stash.get(TELEMETRY)
    if telemetry is None or telemetry.tracer is None:
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

    from plugins.tracing.spans import server_span

    parent = server_span(ctx)
    start = int(call.started_wall * 1e9)
    span = telemetry.tracer.start_span(
        f"tools/call {call.tool}", set_span_in_context(parent) if parent is not None else None,
        kind=SpanKind.CLIENT, start_time=start,
        attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": call.tool, "mcp.server": call.server,
                    "relaygate.mcp.outcome": outcome, "relaygate.key_id": call.caller.key_id,
                    "relaygate.request_id": ctx.request_id, "relaygate.mcp.response_bytes": response_bytes,
                    "relaygate.mcp.request_bytes": call.request_bytes})
    if outcome not in ("ok", "tool_error"):
        span.set_status(Status(StatusCode.ERROR, outcome))
    span.end(end_time=start + int(duration * 1e9))
