"""Structure of the Grafana dashboard: importable, datasource-agnostic, filterable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "relaygate-dashboard.json"
FILTER_VARIABLES = ("endpoint", "provider", "served_model")
#: metrics whose series carry the provider model served (``model``), filtered by the $model variable
MODEL_LABELLED = {"relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
                  "relaygate_time_to_first_token_seconds_bucket", "relaygate_upstream_duration_seconds_bucket",
                  "relaygate_tokens_total", "relaygate_cost_usd_total", "relaygate_upstream_errors_total",
                  "relaygate_unpriced_requests_total"}


def _dashboard() -> dict[str, Any]:
    with DASHBOARD.open(encoding="utf-8") as fh:
        return json.load(fh)


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def test_dashboard_metadata() -> None:
    dash = _dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    assert dash["uid"] and dash["title"]
    assert "id" not in dash or dash["id"] is None, "an exported id breaks import into another Grafana"


def test_template_variables() -> None:
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in (*FILTER_VARIABLES, "model"):
        var = variables[name]
        assert var["type"] == "query"
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        assert query.startswith("label_values(") and query.rstrip(")").endswith(f", {name}"), query
        assert var["datasource"]["uid"] == "${datasource}"
        assert var["includeAll"] and var["multi"] and var["allValue"] == ".*"


def test_panels_use_the_datasource_variable() -> None:
    panels = [p for p in _panels(_dashboard()["panels"]) if p["type"] != "row"]
    assert len(panels) >= 15
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_panel_ids_and_layout() -> None:
    panels = list(_panels(_dashboard()["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        assert pos["h"] > 0, panel["title"]
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
                cells.add((x, y))


def test_model_panels_apply_the_filters() -> None:
    """Queries on model-labelled metrics honour the endpoint/provider/served_model selection.

    A query that combines them with a metric without those labels (e.g. the
    rate-limited ratio) can only filter by what both share, so it is exempt.
    """
    labelled = {"relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
                "relaygate_time_to_first_token_seconds_bucket", "relaygate_upstream_duration_seconds_bucket",
                "relaygate_tokens_total", "relaygate_cost_usd_total", "relaygate_upstream_errors_total",
                "relaygate_retries_total"}
    checked = 0
    for panel in _panels(_dashboard()["panels"]):
        for target in panel.get("targets", []):
            metrics = set(re.findall(r"relaygate_[A-Za-z0-9_]+", target["expr"]))
            if not metrics or not metrics <= labelled:
                continue
            checked += 1
            for name in FILTER_VARIABLES:
                assert f'{name}=~"${name}"' in target["expr"], (panel["title"], name)
    assert checked >= 10


def test_model_panels_tell_models_apart() -> None:
    """A Models row breaks requests, errors, latency, TTFT, tokens and spend down by the model label,
    and every query on a model-labelled metric honours the $model selection."""
    panels = list(_panels(_dashboard()["panels"]))
    row = next(p for p in panels if p["type"] == "row" and p["title"].startswith("Models"))
    by_model = [t["expr"] for p in panels if p["gridPos"]["y"] > row["gridPos"]["y"]
                and p["gridPos"]["y"] <= row["gridPos"]["y"] + 25 and p["type"] != "row" for t in p["targets"]]
    for metric in ("relaygate_requests_total", "relaygate_request_duration_seconds_bucket",
                   "relaygate_time_to_first_token_seconds_bucket", "relaygate_tokens_total",
                   "relaygate_cost_usd_total", "relaygate_unpriced_requests_total"):
        assert any(metric in e and re.search(r"by \([^)]*\bmodel\b", e) for e in by_model), metric
    checked = 0
    for panel in panels:
        for target in panel.get("targets", []):
            metrics = set(re.findall(r"relaygate_[A-Za-z0-9_]+", target["expr"]))
            if metrics and metrics <= MODEL_LABELLED:
                checked += 1
                assert 'model=~"$model"' in target["expr"], panel["title"]
    assert checked >= 20
