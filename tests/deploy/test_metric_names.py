"""Every metric the deploy kit queries must be one the gateway exports.

The exported sample names are derived from the real metric definitions
(plugins/metrics/definitions.py): counters expose ``<name>_total``, histograms
``<name>_bucket``/``_sum``/``_count``, gauges ``<name>``. PromQL expressions in
the Prometheus rules and in the Grafana dashboard are scanned for identifiers;
those starting with ``relaygate_`` are metric names, those with a ``:`` are
recording rules and must be recorded by rules.yml.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` from a checkout without `pip install .`
    sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from plugins.metrics.definitions import Metrics  # noqa: E402

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "relaygate-dashboard.json"

#: Series that are not the gateway's but that Prometheus itself produces.
PROMETHEUS_SERIES = {"up"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENT = re.compile(r"(?<![A-Za-z0-9_:.$])[A-Za-z_:][A-Za-z0-9_:]*")
_RANGE = re.compile(r"\[[^\]]*\]")


def exported_sample_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        elif family.type == "gauge":
            names.add(family.name)
        else:  # pragma: no cover - a new type needs a decision here
            raise AssertionError(f"unhandled metric type {family.type} for {family.name}")
    return names


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_sample_names(Metrics(CollectorRegistry()).registry)


def references(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, recording-rule names) that a PromQL expression refers to."""
    code = _RANGE.sub("", _STRING.sub('""', expr))
    metrics: set[str] = set()
    recorded: set[str] = set()
    for token in _IDENT.findall(code):
        if ":" in token:
            recorded.add(token)
        elif token.startswith("relaygate_") or token in PROMETHEUS_SERIES:
            metrics.add(token)
    return metrics, recorded


def _rule_groups() -> list[dict[str, Any]]:
    with RULES.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)["groups"]


def _rule_exprs() -> Iterator[tuple[str, str]]:
    for group in _rule_groups():
        for rule in group["rules"]:
            yield rule.get("record") or rule["alert"], rule["expr"]


def _recorded_names() -> set[str]:
    return {r["record"] for g in _rule_groups() for r in g["rules"] if "record" in r}


def _dashboard() -> dict[str, Any]:
    with DASHBOARD.open(encoding="utf-8") as fh:
        return json.load(fh)


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    dash = _dashboard()
    for panel in _panels(dash["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            yield f"variable {var['name']}", query


def _unknown(exprs: Iterable[tuple[str, str]], exported: set[str], recorded: set[str]) -> dict[str, set[str]]:
    problems: dict[str, set[str]] = {}
    for where, expr in exprs:
        metrics, rules = references(expr)
        bad = (metrics - exported - PROMETHEUS_SERIES) | (rules - recorded)
        if bad:
            problems[where] = bad
    return problems


# --------------------------------------------------------------------------- the checker itself

def test_reference_parser() -> None:
    metrics, recorded = references(
        'sum by (endpoint) (rate(relaygate_requests_total{status=~"5..",job="relaygate_x"}[5m]))'
        ' / on (endpoint) endpoint:relaygate_requests:rate5m > 0 and up{job=~"relaygate.*"} == 0'
        ' or histogram_quantile(0.9, rate(relaygate_ttft_bucket[$__rate_interval]))')
    assert metrics == {"relaygate_requests_total", "up", "relaygate_ttft_bucket"}
    assert recorded == {"endpoint:relaygate_requests:rate5m"}


def test_checker_rejects_unknown_names(exported: set[str]) -> None:
    problems = _unknown([("bogus", "rate(relaygate_requests[5m]) + relaygate_circuit_state_total"
                                   " + relaygate:no_such_rule:rate5m")], exported, _recorded_names())
    assert problems == {"bogus": {"relaygate_requests", "relaygate_circuit_state_total",
                                  "relaygate:no_such_rule:rate5m"}}


def test_exported_names_follow_prometheus_conventions(exported: set[str]) -> None:
    assert {"relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
            "relaygate_time_to_first_token_seconds_count", "relaygate_circuit_state",
            "relaygate_ledger_lag_seconds", "relaygate_cost_usd_total"} <= exported
    assert "relaygate_requests" not in exported


# --------------------------------------------------------------------------- rules

def test_rules_reference_exported_metrics(exported: set[str]) -> None:
    assert _unknown(_rule_exprs(), exported, _recorded_names()) == {}


def test_recording_rules_defined_before_use() -> None:
    """Within a group rules run in order: a rule reading a later one sees stale data."""
    for group in _rule_groups():
        in_group = {r["record"] for r in group["rules"] if "record" in r}
        defined: set[str] = set()
        for rule in group["rules"]:
            _, recorded = references(rule["expr"])
            too_early = (recorded & in_group) - defined
            assert not too_early, \
                f"{rule.get('record') or rule['alert']} reads {sorted(too_early)} before it is recorded"
            if "record" in rule:
                defined.add(rule["record"])


def test_recording_rule_names() -> None:
    names = _recorded_names()
    assert len(names) == sum(1 for g in _rule_groups() for r in g["rules"] if "record" in r), "duplicates"
    for name in names:
        level, metric, operation = name.split(":")
        assert metric.startswith("relaygate_") or level == "relaygate", name
        assert operation, name


def test_rules_cover_requested_signals(exported: set[str]) -> None:
    used = set().union(*(references(expr)[0] for _, expr in _rule_exprs()))
    for metric in ("relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
                   "relaygate_time_to_first_token_seconds_bucket", "relaygate_tokens_total",
                   "relaygate_upstream_errors_total", "relaygate_circuit_state",
                   "relaygate_rate_limited_requests_total", "relaygate_ledger_lag_seconds",
                   "relaygate_ledger_write_errors_total", "relaygate_config_reloads_total",
                   "relaygate_unpriced_requests_total", "relaygate_model_label_overflow_total"):
        assert metric in used, f"rules.yml does not use {metric}"


def test_rules_break_requests_latency_and_spend_down_by_model() -> None:
    """Dashboards and alerts can tell models apart: per-model recording rules group by the model label."""
    by_model = {name: expr for name, expr in _rule_exprs() if name.startswith("endpoint_provider_model")}
    for metric in ("relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
                   "relaygate_time_to_first_token_seconds_bucket", "relaygate_tokens_total",
                   "relaygate_cost_usd_total"):
        assert any(metric in expr and "model" in expr.split("by (", 1)[-1].split(")")[0]
                   for expr in by_model.values()), f"no per-model rule on {metric}"
    alerts = {name for name, _ in _rule_exprs()}
    assert {"RelaygateModelHighErrorRatio", "RelaygateUnpricedModel", "RelaygateModelLabelOverflow"} <= alerts


# --------------------------------------------------------------------------- dashboard

def test_dashboard_references_exported_metrics(exported: set[str]) -> None:
    exprs = list(_dashboard_exprs())
    assert len(exprs) > 20
    assert _unknown(exprs, exported, _recorded_names()) == {}


def test_dashboard_covers_requested_panels() -> None:
    used = set().union(*(references(expr)[0] for _, expr in _dashboard_exprs()))
    for metric in ("relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
                   "relaygate_time_to_first_token_seconds_bucket", "relaygate_tokens_total",
                   "relaygate_cost_usd_total", "relaygate_rate_limited_requests_total",
                   "relaygate_in_flight_requests", "relaygate_in_flight_streams",
                   "relaygate_upstream_errors_total", "relaygate_circuit_state",
                   "relaygate_ledger_lag_seconds", "relaygate_unpriced_requests_total",
                   "relaygate_model_label_overflow_total"):
        assert metric in used, f"the dashboard has no panel on {metric}"
