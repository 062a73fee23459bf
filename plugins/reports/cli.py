"""``relaygate usage``: ledger totals by key, owner, team, endpoint, served model, provider or day."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from plugins.reports.usage import DIMENSIONS, FORMATS, ReportQuery, render, usage_report
from proxy import hookimpl
from proxy.config import ConfigError
from proxy.zeroconf import settings_from_file_or_env


async def _key_names(settings: Any) -> dict[str, str]:
    """Key id -> name from the config and the key store (best effort: a report never fails on it)."""
    names = {k.name: k.name for k in settings.keys}
    try:
        from plugins.keystore.store import make_key_store

        store = make_key_store(settings)
        await store.open()
        try:
            names.update({r.id: r.name for r in await store.list()})
        finally:
            await store.close()
    except Exception:
        pass
    return names


def cmd_usage(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_file_or_env(args.config)
        query = ReportQuery.parse(args.by, args.since, args.until)
    except (ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2

    async def run() -> str:
        rows = await usage_report(settings, query)
        names = await _key_names(settings) if "key" in query.by else None
        return render(rows, query, args.format, names)

    try:
        sys.stdout.write(asyncio.run(run()))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


@hookimpl
def relaygate_add_commands(commands: Any) -> None:
    """``relaygate usage``."""
    p = commands.add_parser("usage", help="usage totals from the ledger, grouped")
    p.add_argument("--config", "-c", help="YAML configuration file (default: $RELAYGATE_CONFIG or zero-config)")
    p.add_argument("--by", default="key",
                   help=f"group by one or more (comma-separated) of: {', '.join(DIMENSIONS)} (default: key)")
    p.add_argument("--since", help="ISO 8601 start (inclusive), UTC unless an offset is given")
    p.add_argument("--until", help="ISO 8601 end (exclusive)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=cmd_usage)
