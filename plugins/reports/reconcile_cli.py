"""``relaygate reconcile EXPORT...``: the ledger's totals for a period against a provider's own export.

Reads OpenAI or Anthropic usage and cost exports (:mod:`plugins.reports.exports`), sums the
ledger over the same period for the providers of that kind (or ``--provider``), by provider
model, and prints each difference. Cache hits of the gateway's response cache never reached a
provider and are left out. Exit status 1 when a difference is above ``--tolerance``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from plugins.reports.exports import MEASURES, compare, read_export
from plugins.reports.usage import ReportQuery, usage_report
from proxy import hookimpl
from proxy.config import ConfigError, Settings
from proxy.zeroconf import settings_from_file_or_env

#: provider kinds of an export -> the gateway provider types they bill
TYPES = {"openai": ("openai", "azure_openai"), "anthropic": ("anthropic",)}


def ledger_by_model(rows: list[dict[str, Any]], providers: set[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    for r in rows:
        if r["provider"] not in providers:
            continue
        t = out[r["model"]]
        t["requests"] += r["attempts"] - r["errors"] - r["cache_hits"]     # what reached the provider
        for m in MEASURES[1:-1]:
            t[m] += r[m]
        t["cost_usd"] += r["cost_usd"] or 0.0
    return dict(out)


def providers_of(settings: Settings, kind: str, chosen: str | None) -> set[str]:
    if chosen:
        return {chosen}
    names = {name for name, p in settings.providers.items() if p.type in TYPES[kind]}
    return names or {kind}               # zero-config names its providers after their type


def render(rows: list[dict[str, Any]], tolerance: float) -> tuple[str, bool]:
    lines = [f"{'model':<28} {'measure':<26} {'ledger':>16} {'provider':>16} {'difference':>14} {'':>8}  note"]
    ok = True
    for r in rows:
        money = r["measure"] == "cost_usd"
        fmt, dfmt = ("{:>16.6f}", "{:>+14.6f}") if money else ("{:>16,.0f}", "{:>+14,.0f}")
        rel = r["relative"]
        bad = r["note"] != "" or (rel is None and r["difference"] != 0) or (rel is not None and abs(rel) > tolerance)
        ok = ok and not bad
        pct = "" if rel is None else f"{rel:+.2%}"
        lines.append(f"{r['model']:<28} {r['measure']:<26} " + fmt.format(r["ledger"]) + " "
                     + fmt.format(r["provider"]) + " " + dfmt.format(r["difference"])
                     + f" {pct:>8}  {'DIFFERS ' if bad else ''}{r['note']}".rstrip())
    lines.append("reconciled: every difference within the tolerance" if ok
                 else f"NOT reconciled: differences above {tolerance:.2%}")
    return "\n".join(lines) + "\n", ok


def cmd_reconcile(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_file_or_env(args.config)
        query = ReportQuery.parse("provider,model", args.since, args.until)
        exports = [read_export(orjson.loads(Path(f).read_bytes())) for f in args.exports]
    except (ConfigError, ValueError, OSError, orjson.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        rows = asyncio.run(usage_report(settings, query))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    all_ok = True
    for path, (kind, content, totals) in zip(args.exports, exports):
        ledger = ledger_by_model(rows, providers_of(settings, kind, args.provider))
        text, ok = render(compare(ledger, totals, kind, content), args.tolerance)
        sys.stdout.write(f"{path}: {kind} {content} export\n{text}")
        all_ok = all_ok and ok
    return 0 if all_ok else 1


@hookimpl
def relaygate_add_commands(commands: Any) -> None:
    """``relaygate reconcile``."""
    p = commands.add_parser("reconcile", help="compare the ledger with a provider's usage or cost export")
    p.add_argument("exports", nargs="+", help="OpenAI or Anthropic usage/cost export files (JSON)")
    p.add_argument("--config", "-c", help="YAML configuration file (default: $RELAYGATE_CONFIG or zero-config)")
    p.add_argument("--since", required=True, help="ISO 8601 start (inclusive) of the export's period")
    p.add_argument("--until", required=True, help="ISO 8601 end (exclusive)")
    p.add_argument("--provider", help="the configured provider the export is from (default: every provider "
                                      "of the export's kind)")
    p.add_argument("--tolerance", type=float, default=0.01, help="relative difference accepted (default 0.01)")
    p.set_defaults(func=cmd_reconcile)
