"""Prometheus metrics: per-request counters and histograms, and ``GET /metrics``.

Label children are looked up once per label tuple and cached, so a request
costs a few dict lookups and observations. Gauges of current state
(in-flight requests, ledger lag) are read from the gateway at scrape time.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from plugins.metrics.definitions import Metrics
from proxy import hookimpl, resilience

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.gateway import Gateway
    from proxy.surfaces import RouteTable

STATE = "plugins.metrics.prometheus"
#: proxy.reload calls each listener(result) with "success" or "failure"
RELOAD_LISTENERS = "proxy.reload.listeners"
_TOKEN_KINDS = ("input", "output", "cached_input", "cache_creation", "reasoning")


class RequestMetrics:
    """Metrics plus caches of bound label children."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics
        self._request: dict[tuple[str, ...], tuple[Any, Any]] = {}
        self._usage: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def request_done(self, surface: str, endpoint: str, served: str, provider: str, status: int,
                     seconds: float) -> None:
        key = (surface, endpoint, served, provider, str(status))
        children = self._request.get(key)
        if children is None:
            children = (self.m.requests.labels(*key), self.m.request_duration.labels(*key[:4]))
            self._request[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def usage(self, r: UsageRecord, endpoint: str) -> None:
        key = (r.surface, endpoint, r.served_model, r.provider)
        c = self._usage.get(key)
        if c is None:
            labels = key[1:]
            c = (self.m.ttft.labels(*key), self.m.upstream_duration.labels(*labels), self.m.cost.labels(*labels),
                 *(self.m.tokens.labels(*labels, kind) for kind in _TOKEN_KINDS))
            self._usage[key] = c
        u = r.usage
        if r.ttft_s is not None and r.status < 400:
            c[0].observe(r.ttft_s)
        c[1].observe(r.upstream_s)
        if r.cost_usd:
            c[2].inc(r.cost_usd)
        for child, value in zip(c[3:], (u.input_tokens, u.output_tokens, u.cached_input_tokens,
                                        u.cache_creation_tokens, u.reasoning_tokens)):
            if value:
                child.inc(value)
        if r.error and r.error != "client_disconnected":
            self.m.upstream_errors.labels(endpoint, r.served_model, r.provider, r.error).inc()


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return CollectorRegistry()


def setup(gateway: Gateway) -> RequestMetrics:
    rm = gateway.state.get(STATE)
    if rm is None:
        # In multiprocess mode the metric objects write to files and the
        # scrape registry merges every worker's files.
        own = CollectorRegistry() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else _registry()
        rm = RequestMetrics(Metrics(own))
        gateway.state[STATE] = rm
        gateway.state[STATE + ".scrape"] = _registry() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else own
    return rm


def refresh_gauges(gateway: Gateway, m: Metrics) -> None:
    for surface, n in gateway.in_flight.items():
        m.in_flight.labels(surface).set(n)
    for surface, n in gateway.in_flight_streams.items():
        m.in_flight_streams.labels(surface).set(n)
    writer = gateway.state.get("plugins.metering.ledger")
    if writer is not None:
        m.ledger_pending.set(len(writer.pending))
        m.ledger_lag.set(writer.lag_seconds())


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


async def _refresh_forever(gateway: Gateway, m: Metrics) -> None:
    # With workers a scrape reaches one process: each keeps its own gauge file fresh.
    while True:
        refresh_gauges(gateway, m)
        await asyncio.sleep(0.5)


def watch_events(gateway: Gateway, m: Metrics) -> None:
    """Count config reloads and circuit transitions the moment they happen."""
    def circuit(endpoint: str, served: str, provider: str, state: int) -> None:
        m.circuit_state.labels(endpoint, served, provider).set(state)

    resilience.of(gateway).listeners.append(circuit)
    gateway.state.setdefault(RELOAD_LISTENERS, []).append(lambda result: m.config_reloads.labels(result).inc())


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    if _multiprocess():
        task = asyncio.create_task(_refresh_forever(gateway, gateway.state[STATE].m), name="relaygate-gauges")
        gateway.state[STATE + ".task"] = task


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    task = gateway.state.pop(STATE + ".task", None)
    if task is not None:
        task.cancel()


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    rm = setup(gateway)
    watch_events(gateway, rm.m)

    async def metrics(request: web.Request) -> web.Response:
        refresh_gauges(gateway, rm.m)
        body = generate_latest(gateway.state[STATE + ".scrape"])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    routes.add("GET", "/metrics", metrics)


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    # Labels use the configured endpoint name: a wildcard endpoint stays one series.
    ctx.gateway.state[STATE].usage(record, ctx.endpoint.name if ctx.endpoint else record.endpoint)


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    rm: RequestMetrics = ctx.gateway.state[STATE]
    route = ctx.route
    endpoint = ctx.endpoint.name if ctx.endpoint else ""
    rm.request_done(ctx.surface, endpoint, route.served.name if route else "", route.provider.name if route else "",
                    ctx.status, time.perf_counter() - ctx.started)
    if len(ctx.attempts) > 1:
        count_retries(rm.m, endpoint, ctx.attempts)
    if ctx.extra.get("retry_budget_exhausted"):
        rm.m.retry_budget_exhausted.labels(endpoint).inc()


def count_retries(m: Metrics, endpoint: str, attempts: list[Any]) -> None:
    """Each attempt after the first is a retry of the previous one; a new served model is a fallback."""
    for prev, cur in zip(attempts, attempts[1:]):
        labels = (endpoint, prev.route.served.name, prev.route.provider.name, prev.error or "error")
        m.retries.labels(*labels).inc()
        if cur.route.served.name != prev.route.served.name:
            m.fallbacks.labels(*labels).inc()
