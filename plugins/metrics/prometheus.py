"""Prometheus metrics: per-request counters and histograms, and ``GET /metrics``.

prometheus_client takes a lock and walks the buckets on every ``inc`` and
``observe``; at thousands of requests a second that is a large share of a
request's CPU. So a request only adds to plain Python numbers of its label
series (looked up once per label tuple), and :meth:`RequestMetrics.flush` hands
the sums to prometheus_client: at every scrape, and with ``--workers`` (where a
scrape reaches one worker) at the end of each event-loop turn that recorded
something, so the merged totals are never behind by more than that turn.
Gauges of current state (in-flight requests, ledger lag) are read from the
gateway at scrape time.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from plugins.metering.ledger import LEDGER
from plugins.metrics.config import MetricsConfig
from plugins.metrics.definitions import OTHER_KEY, OTHER_MODEL, Metrics
from proxy import hookimpl, resilience
from proxy.gateway import DEPENDENCY_STATE
from proxy.reload import RELOAD_LISTENERS
from proxy.stash import StashKey
from proxy.upstream import DROPPED_PARAMS

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.gateway import Gateway
    from proxy.sections import Spec
    from proxy.surfaces import RouteTable

_TOKEN_KINDS = ("input", "output", "cached_input", "cache_creation", "reasoning", "cache_creation_1h")


class PendingCounter:
    """Increments of one counter child not yet handed to prometheus_client."""

    __slots__ = ("child", "value")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.value = 0.0

    def flush(self) -> None:
        if self.value:
            value, self.value = self.value, 0.0
            self.child.inc(value)


class PendingHistogram:
    """Observations of one histogram child: per-bucket counts and the sum, as ``observe`` keeps them."""

    __slots__ = ("child", "bounds", "counts", "total", "n")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds = child._upper_bounds          # ends with +Inf: every value finds a bucket
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1    # the first bound >= value, like observe()
        self.total += value
        self.n += 1

    def flush(self) -> None:
        if not self.n:
            return
        buckets, counts = self.child._buckets, self.counts
        for i, n in enumerate(counts):
            if n:
                buckets[i].inc(n)
                counts[i] = 0
        self.child._sum.inc(self.total)
        self.total, self.n = 0.0, 0


class ModelLabels:
    """The ``model`` label values of each endpoint: the first *cap* distinct models keep their name,
    later ones are ``other`` (per process: with workers each keeps its own first *cap*)."""

    def __init__(self, cap: int = MetricsConfig().max_models_per_endpoint) -> None:
        self.cap = cap
        self.seen: dict[str, set[str]] = {}

    def label(self, endpoint: str, model: str) -> str:
        seen = self.seen.get(endpoint)
        if seen is None:
            seen = self.seen[endpoint] = set()
        if model in seen:
            return model
        if len(seen) < self.cap:
            seen.add(model)
            return model
        return OTHER_MODEL


class RequestMetrics:
    """Metrics plus the pending sums of their label series (see the module docstring)."""

    def __init__(self, metrics: Metrics, flush_each_turn: bool = False) -> None:
        self.m = metrics
        self.models = ModelLabels()
        self.keys: set[str] = set()
        self.max_keys = MetricsConfig().max_keys
        self.by_key = MetricsConfig().prompt_cache_by_key
        self._request: dict[tuple[str, ...], tuple[PendingCounter, PendingHistogram]] = {}
        self._usage: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self._counters: dict[tuple[Any, ...], PendingCounter] = {}
        self._series: list[PendingCounter | PendingHistogram] = []    # everything that may hold a sum
        self._flush_each_turn = flush_each_turn
        self._flush_scheduled = False

    def _counter(self, child: Any) -> PendingCounter:
        c = PendingCounter(child)
        self._series.append(c)
        return c

    def _histogram(self, child: Any) -> PendingHistogram:
        h = PendingHistogram(child)
        self._series.append(h)
        return h

    def _recorded(self) -> None:
        if self._flush_each_turn and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Hand every pending sum to prometheus_client."""
        self._flush_scheduled = False
        for s in self._series:
            s.flush()

    def inc(self, counter: Any, labels: tuple[str, ...], amount: float = 1.0) -> None:
        """``counter.labels(*labels).inc(amount)``, pending until the next flush."""
        key = (counter, *labels)
        c = self._counters.get(key)
        if c is None:
            c = self._counters[key] = self._counter(counter.labels(*labels))
        c.value += amount
        self._recorded()

    def request_done(self, surface: str, endpoint: str, served: str, provider: str, model: str, status: int,
                     seconds: float) -> None:
        label = self.models.label(endpoint, model)
        if label != model:                        # beyond the cap: counted, never a new series
            self.inc(self.m.model_label_overflow, (endpoint,))
        key = (surface, endpoint, served, provider, label, str(status))
        series = self._request.get(key)
        if series is None:
            series = (self._counter(self.m.requests.labels(*key)),
                      self._histogram(self.m.request_duration.labels(*key[:5])))
            self._request[key] = series
        series[0].value += 1
        series[1].observe(seconds)
        self._recorded()

    def prompt_cache(self, r: UsageRecord) -> None:
        """The per-key cache hit ratio's three parts (input includes the cache reads)."""
        key = ""
        if self.by_key:
            key = r.key_id if r.key_id in self.keys or len(self.keys) < self.max_keys else OTHER_KEY
            self.keys.add(key)
        u = r.usage
        read = min(u.cached_input_tokens, u.input_tokens)
        for kind, n in (("read", read), ("write", u.cache_creation_tokens), ("uncached", u.input_tokens - read)):
            if n:
                self.inc(self.m.prompt_cache_tokens, (key, r.agent or "other", kind), n)

    def usage(self, r: UsageRecord, endpoint: str) -> None:
        if r.cache_hit:            # the response cache answered: no provider call, no tokens spent
            if r.saved_cost_usd:
                self.inc(self.m.response_cache_saved, (endpoint,), r.saved_cost_usd)
            return
        model = self.models.label(endpoint, r.provider_model)
        key = (r.surface, endpoint, r.served_model, r.provider, model)
        c = self._usage.get(key)
        if c is None:
            labels = key[1:]
            c = (self._histogram(self.m.ttft.labels(*key)), self._histogram(self.m.upstream_duration.labels(*labels)),
                 self._counter(self.m.cost.labels(*labels)),
                 *(self._counter(self.m.tokens.labels(*labels, kind)) for kind in _TOKEN_KINDS))
            self._usage[key] = c
        u = r.usage
        if r.ttft_s is not None and r.status < 400:
            c[0].observe(r.ttft_s)
        c[1].observe(r.upstream_s)
        if r.cost_usd:
            c[2].value += r.cost_usd
        elif r.cost_usd is None:                  # tokens used, but no price known for the model
            self.inc(self.m.unpriced, (endpoint, model))
        c[3].value += u.input_tokens
        c[4].value += u.output_tokens
        c[5].value += u.cached_input_tokens
        c[6].value += u.cache_creation_tokens
        c[7].value += u.reasoning_tokens
        c[8].value += u.cache_creation_1h_tokens
        if u.input_tokens or u.cache_creation_tokens:
            self.prompt_cache(r)
        self._recorded()
        if r.error and r.error != "client_disconnected":
            self.inc(self.m.upstream_errors, (endpoint, r.served_model, r.provider, model, r.error))


#: this process's metrics; other plugins count into them (rate-limit refusals, agent requests)
METRICS: StashKey[RequestMetrics] = StashKey("metrics")
#: what ``/metrics`` renders: the metrics' own registry, or every worker's files merged
SCRAPE_REGISTRY: StashKey[CollectorRegistry] = StashKey("metrics.scrape_registry")
#: with workers, the task that keeps this process's gauges fresh
GAUGE_TASK: StashKey[asyncio.Task[None]] = StashKey("metrics.gauge_task")


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return CollectorRegistry()


def setup(gateway: Gateway) -> RequestMetrics:
    rm = gateway.stash.get(METRICS)
    if rm is None:
        # In multiprocess mode the metric objects write to files and the
        # scrape registry merges every worker's files.
        own = CollectorRegistry() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else _registry()
        rm = RequestMetrics(Metrics(own), flush_each_turn=_multiprocess())
        gateway.stash[METRICS] = rm
        gateway.stash[SCRAPE_REGISTRY] = _registry() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else own
    return rm


def refresh_gauges(gateway: Gateway, m: Metrics) -> None:
    for surface, n in gateway.in_flight.items():
        m.in_flight.labels(surface).set(n)
    for surface, n in gateway.in_flight_streams.items():
        m.in_flight_streams.labels(surface).set(n)
    writer = gateway.stash.get(LEDGER)
    if writer is not None:
        m.ledger_pending.set(len(writer.pending))
        m.ledger_lag.set(writer.lag_seconds())
    for name, up in gateway.stash.get(DEPENDENCY_STATE, {}).items():
        m.dependency_up.labels(name).set(1 if up else 0)


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
    gateway.stash.setdefault(RELOAD_LISTENERS, []).append(lambda result: m.config_reloads.labels(result).inc())


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"metrics": MetricsConfig}


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    rm = gateway.stash.get(METRICS)
    if rm is not None:       # a reload may raise the cap; models already labelled keep their label
        rm.models.cap = gateway.settings.section(MetricsConfig).max_models_per_endpoint
        rm.max_keys = gateway.settings.section(MetricsConfig).max_keys
        rm.by_key = gateway.settings.section(MetricsConfig).prompt_cache_by_key


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    if _multiprocess():
        task = asyncio.create_task(_refresh_forever(gateway, gateway.stash[METRICS].m), name="relaygate-gauges")
        gateway.stash[GAUGE_TASK] = task


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    task = gateway.stash.pop(GAUGE_TASK, None)
    if task is not None:
        task.cancel()
    rm = gateway.stash.get(METRICS)
    if rm is not None:
        rm.flush()              # with workers, this process's files outlive it


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    rm = setup(gateway)
    watch_events(gateway, rm.m)

    async def metrics(request: web.Request) -> web.Response:
        refresh_gauges(gateway, rm.m)
        rm.flush()
        body = generate_latest(gateway.stash[SCRAPE_REGISTRY])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    routes.add("GET", "/metrics", metrics)


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    # Labels use the configured endpoint name: a wildcard endpoint stays one series.
    ctx.gateway.stash[METRICS].usage(record, ctx.endpoint.name if ctx.endpoint else record.endpoint)


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    rm = ctx.gateway.stash[METRICS]
    route = ctx.route
    endpoint = ctx.endpoint.name if ctx.endpoint else ""
    rm.request_done(ctx.surface, endpoint, route.served.name if route else "", route.provider.name if route else "",
                    route.upstream_model if route else "", ctx.status, time.perf_counter() - ctx.started)
    if len(ctx.attempts) > 1:
        count_retries(rm, endpoint, ctx.attempts)
    if ctx.stash.get(resilience.RETRY_BUDGET_EXHAUSTED):
        rm.inc(rm.m.retry_budget_exhausted, (endpoint,))
    for param in ctx.stash.get(DROPPED_PARAMS, ()):          # what the route's exchange could not express
        rm.inc(rm.m.dropped_params, (endpoint, param))


def count_retries(rm: RequestMetrics, endpoint: str, attempts: list[Any]) -> None:
    """Each attempt after the first is a retry of the previous one; a new served model is a fallback."""
    for prev, cur in pairwise(attempts):
        labels = (endpoint, prev.route.served.name, prev.route.provider.name, prev.error or "error")
        rm.inc(rm.m.retries, labels)
        if cur.route.served.name != prev.route.served.name:
            rm.inc(rm.m.fallbacks, labels)
