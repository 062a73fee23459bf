"""The per-request hooks of tracing: registered by :mod:`plugins.tracing.setup` only when telemetry
is on, so a gateway without it runs none of them.

- ``authenticate`` (first, abstaining): the SERVER span, as the child of an incoming W3C
  ``traceparent``, timed from the request's arrival; its trace id goes to the ledger and the log;
- ``attempt_started``: a CLIENT span per provider attempt, the server span's child (retries and
  fallbacks are siblings, with the reason); its ``traceparent`` for the provider when configured;
- ``record_usage``: the attempt's usage, answer, first-token event and error; it ends when the
  attempt ended (a stream at its last chunk or its cut), and the GenAI metrics get their measurements;
- ``request_finished``: the server span gets the final status and ends.

Times are the request's wall-clock start plus ``perf_counter`` offsets, the clock the gateway
measures with, so span times and the ledger's latencies agree.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind, Status, StatusCode, format_trace_id, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from plugins.tracing import conventions as sc
from plugins.tracing.answers import Answer
from plugins.tracing.content import Redaction, input_attributes, output_attribute
from plugins.tracing.config import TELEMETRY
from proxy import hookimpl
from proxy.context import AGENT_KIND, AGENT_SESSION_ID, TRACE_ID
from proxy.stash import StashKey
from proxy.taps import RESPONSE_TAPS
from proxy.upstream import DROPPED_PARAMS

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from plugins.tracing.telemetry import Telemetry

    from proxy.context import RequestContext, Route, UsageRecord
    from proxy.upstream import Attempt

log = logging.getLogger("relaygate.tracing")
W3C = TraceContextTextMapPropagator()
_SERVER: StashKey[Span] = StashKey("tracing.server_span")
_ATTEMPTS: StashKey[dict[int, Span]] = StashKey("tracing.attempt_spans")
_ANSWER: StashKey[Answer] = StashKey("tracing.answer")
_INPUT: StashKey[dict[str, str]] = StashKey("tracing.input_content")
#: AGENT_KIND values that are no coding agent (an SDK, or unknown): no relaygate.agent attribute
_NOT_AGENTS = frozenset({"sdk", "other"})


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def server_span(ctx: RequestContext) -> Span | None:
    """The request's server span (tracing on and sampled in), for plugins that add children (plugins/mcp)."""
    return ctx.stash.get(_SERVER)


def _telemetry(ctx: RequestContext) -> Telemetry | None:
    return ctx.gateway.stash.get(TELEMETRY)


@hookimpl(tryfirst=True)
def relaygate_authenticate(ctx: RequestContext) -> None:
    telemetry = _telemetry(ctx)
    if telemetry is None or telemetry.tracer is None:
        return None
    try:
        _start_server_span(ctx, telemetry.tracer)
    except Exception:                    # the one tracing hook the core does not isolate: never fail a request
        log.exception("tracing: the server span of request %s could not start", ctx.request_id)
    return None


def _start_server_span(ctx: RequestContext, tracer: Tracer) -> None:
    request = ctx.request
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    host, port = sc.split_host(request.host)
    # given at the start, not set after it: the SDK checks a span's attributes once (a sampled-out
    # span drops them unread)
    attributes: dict[str, Any] = {
        sc.HTTP_METHOD: request.method, sc.HTTP_ROUTE: route, sc.URL_PATH: request.path,
        sc.URL_SCHEME: request.scheme, sc.SERVER_ADDRESS: host, sc.REQUEST_ID: ctx.request_id,
        sc.SURFACE: ctx.surface,
    }
    if port is not None:
        attributes[sc.SERVER_PORT] = port
    if request.remote:
        attributes[sc.CLIENT_ADDRESS] = request.remote
    if agent := request.headers.get("User-Agent"):
        attributes[sc.USER_AGENT] = agent
    span = tracer.start_span(f"{request.method} {route}", W3C.extract(request.headers), kind=SpanKind.SERVER,
                             attributes=attributes, start_time=_ns(ctx.started_wall))
    ctx.stash[_SERVER] = span
    ctx.stash[TRACE_ID] = format_trace_id(span.get_span_context().trace_id)


@hookimpl
def relaygate_attempt_started(ctx: RequestContext, route: Route, attempt: Attempt) -> dict[str, str] | None:
    telemetry = _telemetry(ctx)
    server = ctx.stash.get(_SERVER)
    if telemetry is None or telemetry.tracer is None or server is None:
        return None
    recording = server.is_recording()            # the parent's sampling decision is the attempt's
    if not recording and not telemetry.plan.propagate:
        return None                              # sampled out, and no context to send: no span at all
    operation = sc.operation_name(route.provider_api)
    span = telemetry.tracer.start_span(
        f"{operation} {route.upstream_model}", set_span_in_context(server), kind=SpanKind.CLIENT,
        attributes=_attempt_attributes(ctx, route, attempt, operation) if recording else None,
        start_time=_ns(ctx.started_wall + (attempt.t0 - ctx.started)))
    ctx.stash.setdefault(_ATTEMPTS, {})[attempt.number] = span
    if recording:
        answer = ctx.stash.get(_ANSWER)
        if answer is None:               # one tap per request, read afresh by each attempt
            answer = ctx.stash[_ANSWER] = Answer(ctx.api.id, telemetry.plan.content_max_bytes
                                                 if telemetry.plan.capture_content else 0)
            ctx.stash.setdefault(RESPONSE_TAPS, []).append(answer)
        answer.reset(stream=ctx.stream)
    if not telemetry.plan.propagate:
        return None
    carrier: dict[str, str] = {}
    W3C.inject(carrier, set_span_in_context(span))
    return carrier


def _attempt_attributes(ctx: RequestContext, route: Route, attempt: Attempt, operation: str) -> dict[str, Any]:
    provider = route.provider
    host, port = sc.server_of(provider.base_url)
    # the request's id, endpoint and key are on the server span, the parent: not repeated here
    attributes: dict[str, Any] = {
        sc.OPERATION: operation, sc.PROVIDER: sc.provider_name(provider.kind), sc.REQUEST_MODEL: route.upstream_model,
        sc.PROVIDER_CONFIG: provider.name, sc.SERVED_MODEL: route.served.name, sc.ATTEMPT: attempt.number,
        sc.SERVER_ADDRESS: host,
    }
    if port is not None:
        attributes[sc.SERVER_PORT] = port
    if ctx.stream:
        attributes[sc.REQUEST_STREAM] = True
    if not route.passthrough:
        attributes[sc.TRANSLATED] = route.client_api
    body = ctx.body or {}
    if max_tokens := ctx.api.max_output_tokens(body):
        attributes[sc.REQUEST_MAX_TOKENS] = max_tokens
    attributes.update(sc.request_parameters(ctx.api.id, body, ctx.stash.get(DROPPED_PARAMS, ())))
    attributes.update(_session(ctx))
    if attempt.number > 1 and len(ctx.attempts) > 1:
        before = ctx.attempts[-2]              # ctx.attempts ends with this attempt
        same_model = before.route.served.name == route.served.name
        attributes[sc.ATTEMPT_KIND] = "retry" if same_model else "fallback"
        attributes[sc.ATTEMPT_REASON] = before.error or str(before.status)
    else:
        attributes[sc.ATTEMPT_KIND] = "first"
    return attributes


def _session(ctx: RequestContext) -> dict[str, str]:
    found = {}
    if session := ctx.stash.get(AGENT_SESSION_ID):
        found[sc.CONVERSATION_ID] = session
    if (agent := ctx.stash.get(AGENT_KIND)) and agent not in _NOT_AGENTS:
        found[sc.AGENT] = agent
    return found


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    telemetry = _telemetry(ctx)
    if telemetry is None:
        return
    spans = ctx.stash.get(_ATTEMPTS)
    span = spans.pop(record.attempt, None) if spans else None
    answer = ctx.stash.get(_ANSWER) if span is not None else None
    route = ctx.route
    # the provider's first chunk, from this attempt's start (the record's is from the request's)
    first_chunk = record.ttft_s - (record.latency_s - record.upstream_s) if ctx.stream and record.ttft_s else None
    genai: dict[str, Any] = {}
    if route is not None:
        genai = {sc.OPERATION: sc.operation_name(route.provider_api),
                 sc.PROVIDER: sc.provider_name(route.provider.kind), sc.REQUEST_MODEL: route.upstream_model}
        if answer is not None and answer.model and route.passthrough:
            genai[sc.RESPONSE_MODEL] = answer.model
    if record.error:
        genai[sc.ERROR_TYPE] = record.error
    if telemetry.metrics is not None:
        telemetry.metrics.record(record, genai, first_chunk)
    if span is None:
        return
    if span.is_recording():
        _finish_attempt(ctx, telemetry, span, record, answer, genai, first_chunk)
    span.end(end_time=_ns(record.started_wall + record.latency_s))


def _finish_attempt(ctx: RequestContext, telemetry: Telemetry, span: Span, record: UsageRecord,
                    answer: Answer | None, genai: dict[str, Any], first_chunk: float | None) -> None:
    u = record.usage
    attributes: dict[str, Any] = {sc.INPUT_TOKENS: u.input_tokens, sc.OUTPUT_TOKENS: u.output_tokens,
                                  sc.OUTCOME: record.outcome}
    for name, value in ((sc.CACHE_READ_TOKENS, u.cached_input_tokens), (sc.CACHE_CREATION_TOKENS,
                        u.cache_creation_tokens), (sc.REASONING_TOKENS, u.reasoning_tokens)):
        if value:
            attributes[name] = value
    route = ctx.route
    if answer is not None and record.status < 400:
        if answer.finishes:
            attributes[sc.FINISH_REASONS] = answer.finish_reasons
        if route is not None and route.passthrough and answer.id:    # a translation names its own answers
            attributes[sc.RESPONSE_ID] = answer.id
        if sc.RESPONSE_MODEL in genai:
            attributes[sc.RESPONSE_MODEL] = genai[sc.RESPONSE_MODEL]
    if first_chunk is not None:
        attributes[sc.TIME_TO_FIRST_CHUNK] = first_chunk
        span.add_event(sc.FIRST_TOKEN_EVENT, {sc.TIME_TO_FIRST_CHUNK: first_chunk},
                       timestamp=_ns(record.started_wall + (record.ttft_s or 0.0)))
    if telemetry.plan.capture_content:
        attributes.update(_content(ctx, telemetry, answer))
    if record.error:
        attributes[sc.ERROR_TYPE] = record.error
        span.set_status(Status(StatusCode.ERROR, record.error))
    span.set_attributes(attributes)


def _content(ctx: RequestContext, telemetry: Telemetry, answer: Answer | None) -> dict[str, str]:
    redaction = Redaction(getattr(getattr(ctx.endpoint, "payload_logging", None), "redact", None),
                          telemetry.plan.content_max_bytes)
    found = ctx.stash.get(_INPUT)
    if found is None:                    # the same prompt for every attempt: rendered once
        found = ctx.stash[_INPUT] = input_attributes(ctx.api.id, ctx.body or {}, redaction)
    found = dict(found)
    if answer is not None:
        texts = {i: answer.text_of(i) for i in answer.texts}
        found.update(output_attribute(texts, answer.finishes, redaction))
    return found


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    span = ctx.stash.pop(_SERVER, None)
    if span is None:
        return
    for left in (ctx.stash.get(_ATTEMPTS) or {}).values():
        left.end()                       # an attempt whose record never came: still exported
    if span.is_recording():
        span.set_attributes(_server_outcome(ctx))
        if ctx.status >= 500:
            span.set_status(Status(StatusCode.ERROR, ctx.error_reason or None))
    span.end(end_time=_ns(ctx.started_wall + (time.perf_counter() - ctx.started)))


def _server_outcome(ctx: RequestContext) -> dict[str, Any]:
    attributes: dict[str, Any] = {sc.HTTP_STATUS: ctx.status, sc.ATTEMPTS: len(ctx.attempts)}
    if ctx.endpoint_name:
        attributes[sc.ENDPOINT] = ctx.endpoint_name
    if ctx.route is not None:
        attributes[sc.SERVED_MODEL] = ctx.route.served.name
    if (p := ctx.principal) is not None:
        attributes.update({sc.KEY_ID: p.key_id, sc.KEY_OWNER: p.owner, sc.KEY_TEAM: p.team})
    attributes.update(_session(ctx))
    reason = ctx.error_reason or ("client_disconnected" if ctx.status == 499 else "")
    if ctx.status >= 500:
        attributes[sc.ERROR_TYPE] = reason or str(ctx.status)      # HTTP conventions: only 5xx fail a server span
    elif reason:
        attributes[sc.ERROR_REASON] = reason
    return attributes
