"""Provider usage and cost exports, read into per-model totals. Pure functions, no I/O.

Formats (the JSON the providers' admin APIs return, saved to a file; pages may be
concatenated as a JSON list of pages):

- OpenAI ``GET /v1/organization/usage/completions`` (``{"object": "page", "data": [bucket...]}``,
  results ``organization.usage.completions.result``: ``input_tokens`` including cached,
  ``input_cached_tokens``, ``output_tokens``, ``num_model_requests``, ``model`` when grouped
  by model) and ``GET /v1/organization/costs`` (results ``organization.costs.result`` with
  ``amount.value`` in USD).
- Anthropic ``GET /v1/organizations/usage_report/messages`` (results with
  ``uncached_input_tokens``, ``cache_read_input_tokens``, ``cache_creation``
  ``{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}``, ``output_tokens``, ``model``)
  and ``GET /v1/organizations/cost_report`` (results with ``amount``: a decimal string in
  cents, ``currency`` ``USD``, ``model``).

Every total is in the gateway's vocabulary: ``input_tokens`` counts cache reads (not
writes), ``cached_input_tokens`` the reads, ``cache_creation_tokens`` the writes and
``cache_creation_1h_tokens`` their one-hour part.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

MEASURES = ("requests", "input_tokens", "cached_input_tokens", "cache_creation_tokens", "cache_creation_1h_tokens",
            "output_tokens", "cost_usd")
#: what each provider's usage export counts (Anthropic's has no request counts)
USAGE_MEASURES = {"openai": ("requests", "input_tokens", "cached_input_tokens", "cache_creation_tokens",
                             "output_tokens"),
                  "anthropic": ("input_tokens", "cached_input_tokens", "cache_creation_tokens",
                                "cache_creation_1h_tokens", "output_tokens")}
#: the model of rows an export does not group by model
ANY_MODEL = "*"


def _pages(doc: Any) -> list[dict[str, Any]]:
    pages = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(p, dict) and isinstance(p.get("data"), list) for p in pages):
        raise ValueError("not a usage or cost export: expected an object (or a list of them) with a 'data' list")
    return pages


def _results(doc: Any) -> list[dict[str, Any]]:
    return [r for page in _pages(doc) for bucket in page["data"] if isinstance(bucket, dict)
            for r in bucket.get("results") or [] if isinstance(r, dict)]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def read_export(doc: Any) -> tuple[str, str, dict[str, dict[str, float]]]:
    """(provider kind, "usage" or "cost", {model: {measure: total}}) of one export document."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    kind = ""
    for r in _results(doc):
        model = r.get("model") or ANY_MODEL
        t = totals[model]
        obj = r.get("object")
        if obj == "organization.usage.completions.result":
            kind = "openai"
            t["requests"] += _int(r.get("num_model_requests"))
            t["input_tokens"] += _int(r.get("input_tokens")) - _int(r.get("input_cache_write_tokens"))
            t["cached_input_tokens"] += _int(r.get("input_cached_tokens"))
            t["cache_creation_tokens"] += _int(r.get("input_cache_write_tokens"))
            t["output_tokens"] += _int(r.get("output_tokens"))
        elif obj == "organization.costs.result":
            kind = "openai"
            amount = r.get("amount") or {}
            t["cost_usd"] += float(amount.get("value") or 0.0)
        elif "uncached_input_tokens" in r:
            kind = "anthropic"
            by_ttl = r.get("cache_creation") or {}
            five = _int(by_ttl.get("ephemeral_5m_input_tokens", r.get("cache_creation_5m_input_tokens")))
            hour = _int(by_ttl.get("ephemeral_1h_input_tokens", r.get("cache_creation_1h_input_tokens")))
            read = _int(r.get("cache_read_input_tokens"))
            t["input_tokens"] += _int(r.get("uncached_input_tokens")) + read
            t["cached_input_tokens"] += read
            t["cache_creation_tokens"] += five + hour
            t["cache_creation_1h_tokens"] += hour
            t["output_tokens"] += _int(r.get("output_tokens"))
        elif isinstance(r.get("amount"), str) and str(r.get("currency", "USD")).upper() == "USD":
            kind = "anthropic"
            t["cost_usd"] += float(r["amount"]) / 100          # cents, as a decimal string
        else:
            raise ValueError(f"unknown export result: {sorted(r)[:8]}")
    if not kind:
        raise ValueError("the export has no usage or cost results")
    content = "cost" if all(m == "cost_usd" or not v for t in totals.values() for m, v in t.items()) else "usage"
    return kind, content, dict(totals)


def match_model(export_model: str, ledger_models: list[str]) -> str | None:
    """The ledger model an export's model is (providers report dated snapshots: gpt-4o-mini-2024-07-18)."""
    if export_model in ledger_models:
        return export_model
    prefixes = [m for m in ledger_models if export_model.startswith(m + "-")]
    return max(prefixes, key=len) if prefixes else None


def compare(ledger: dict[str, dict[str, float]], export: dict[str, dict[str, float]],
            kind: str, content: str) -> list[dict[str, Any]]:
    """One row per (model, measure) the export covers: ledger value, provider value, difference."""
    if ANY_MODEL in export:                       # the export is not by model: compare grand totals
        ledger = {ANY_MODEL: {m: sum(t.get(m, 0.0) for t in ledger.values()) for m in MEASURES}}
    by_model: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    unmatched = []
    for model, t in export.items():
        target = match_model(model, list(ledger)) if model != ANY_MODEL else ANY_MODEL
        if target is None:
            unmatched.append(model)
            target = model
        for m in MEASURES:
            by_model[target][m] += t[m]
    measures = ("cost_usd",) if content == "cost" else USAGE_MEASURES[kind]
    rows = []
    for model in sorted(set(by_model) | set(ledger)):
        for m in measures:
            ours, theirs = ledger.get(model, {}).get(m, 0.0), by_model.get(model, {}).get(m, 0.0)
            if not ours and not theirs:
                continue
            rows.append({"model": model, "measure": m, "ledger": ours, "provider": theirs,
                         "difference": ours - theirs, "relative": (ours - theirs) / theirs if theirs else None,
                         "note": "not in the ledger" if model in unmatched else
                                 "not in the export" if model not in by_model else ""})
    return rows
