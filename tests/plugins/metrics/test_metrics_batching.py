"""Pending metric sums (plugins.metrics.prometheus) export exactly what direct prometheus_client calls would."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Histogram

from plugins.metrics.definitions import DURATION_BUCKETS, Metrics
from plugins.metrics.prometheus import PendingCounter, PendingHistogram, RequestMetrics

VALUES = [0.0, 0.005, 0.0051, 0.3, 1, 2.5, 7.0, 599.9, 600, 601, 1e9]


def _pair(name: str) -> tuple[CollectorRegistry, CollectorRegistry, Histogram, Histogram]:
    a, b = CollectorRegistry(), CollectorRegistry()
    return (a, b, Histogram(name, "h", ("x",), buckets=DURATION_BUCKETS, registry=a),
            Histogram(name, "h", ("x",), buckets=DURATION_BUCKETS, registry=b))


def _samples(reg: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for f in reg.collect() for s in f.samples
            if not s.name.endswith("_created")]      # creation times differ by construction


def test_pending_histogram_matches_observe_bucket_for_bucket():
    direct_reg, pending_reg, direct, batched = _pair("h_seconds")
    pending = PendingHistogram(batched.labels("a"))
    for v in VALUES:
        direct.labels("a").observe(v)
        pending.observe(v)
    assert _samples(direct_reg) != _samples(pending_reg)     # nothing handed over yet
    pending.flush()
    assert _samples(direct_reg) == _samples(pending_reg)
    pending.flush()                                           # a second flush adds nothing
    assert _samples(direct_reg) == _samples(pending_reg)


def test_pending_counter_adds_and_resets():
    reg = CollectorRegistry()
    c = Counter("c", "c", registry=reg)
    p = PendingCounter(c)
    p.value += 3
    p.flush()
    p.flush()
    assert reg.get_sample_value("c_total") == 3


def test_request_metrics_flush_each_turn_hands_over_without_a_scrape():
    reg = CollectorRegistry()
    rm = RequestMetrics(Metrics(reg), flush_each_turn=True)

    async def run() -> None:
        rm.request_done("unified", "chat", "m", "p", "gpt-x", 200, 0.2)
        rm.inc(rm.m.agent_requests, ("sdk", "unified"))
        assert reg.get_sample_value("relaygate_requests_total", {
            "surface": "unified", "endpoint": "chat", "served_model": "m", "provider": "p", "model": "gpt-x",
            "status": "200"}) == 0
        await asyncio.sleep(0)                       # the end of this event-loop turn
        await asyncio.sleep(0)

    asyncio.run(run())
    labels = {"surface": "unified", "endpoint": "chat", "served_model": "m", "provider": "p", "model": "gpt-x"}
    assert reg.get_sample_value("relaygate_requests_total", {**labels, "status": "200"}) == 1
    assert reg.get_sample_value("relaygate_request_duration_seconds_bucket", {**labels, "le": "0.25"}) == 1
    assert reg.get_sample_value("relaygate_request_duration_seconds_bucket", {**labels, "le": "0.1"}) == 0
    assert reg.get_sample_value("relaygate_agent_requests_total", {"agent": "sdk", "surface": "unified"}) == 1
