"""The ``relaygate`` command: serve and check-config, plus what plugins add.

Plugins add sub-commands through ``relaygate_add_commands``, so the plugin
manager (built-ins and entry points) is built before the arguments are parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import sys

import pluggy

from proxy.config import ConfigError, Settings, load_settings
from proxy.logs import configure_logging
from proxy.plugins import make_plugin_manager
from proxy.zeroconf import settings_from_file_or_env

log = logging.getLogger("relaygate")


def _apply_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    server = settings.server.model_copy(update={k: v for k, v in (
        ("host", args.host), ("port", args.port), ("workers", args.workers)) if v is not None})
    return settings.model_copy(update={"server": server})


def cmd_serve(args: argparse.Namespace) -> int:
    from proxy.serve import serve
    try:
        settings = _apply_flags(settings_from_file_or_env(args.config), args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return serve(settings, config_path=args.config or os.environ.get("RELAYGATE_CONFIG"))


def cmd_check_config(args: argparse.Namespace) -> int:
    from proxy.app import GATEWAY, make_app
    try:
        settings = load_settings(args.file)
        app = make_app(settings)     # also checks provider types and plugins
    except (ConfigError, ValueError, ImportError) as exc:
        print(exc, file=sys.stderr)
        return 2
    for warning in asyncio.run(_config_warnings(app[GATEWAY].pm, settings)):
        print(f"warning: {warning}", file=sys.stderr)
    eps = len(settings.endpoints)
    print(f"{args.file}: OK ({len(settings.providers)} providers, {eps} endpoints, {len(settings.keys)} keys)")
    return 0


async def _config_warnings(pm: pluggy.PluginManager, settings: Settings) -> list[str]:
    found: list[str] = []
    for result in pm.hook.relaygate_config_warnings(settings=settings):
        if inspect.isawaitable(result):
            result = await result
        found.extend(result or ())
    return found


def build_parser(pm: pluggy.PluginManager | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relaygate", description="Relaygate AI gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway (zero-config from the environment without --config)")
    serve.add_argument("--config", "-c", help="YAML configuration file (default: $RELAYGATE_CONFIG or zero-config)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes sharing the port (default 1)")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="validate a configuration file without starting")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)
    (pm or make_plugin_manager()).hook.relaygate_add_commands(commands=sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
