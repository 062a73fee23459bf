"""The ``relaygate`` command: serve, check-config."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from proxy.config import ConfigError, Settings, load_settings
from proxy.logs import configure_logging
from proxy.zeroconf import settings_from_env

log = logging.getLogger("relaygate")


def _settings(path: str | None) -> Settings:
    path = path or os.environ.get("RELAYGATE_CONFIG")
    if path:
        return load_settings(path)
    return settings_from_env(dict(os.environ))


def _apply_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    server = settings.server.model_copy(update={k: v for k, v in (
        ("host", args.host), ("port", args.port), ("workers", args.workers)) if v is not None})
    return settings.model_copy(update={"server": server})


def cmd_serve(args: argparse.Namespace) -> int:
    from proxy.serve import serve
    try:
        settings = _apply_flags(_settings(args.config), args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return serve(settings, config_path=args.config or os.environ.get("RELAYGATE_CONFIG"))


def cmd_check_config(args: argparse.Namespace) -> int:
    from proxy.app import make_app
    try:
        settings = load_settings(args.file)
        make_app(settings)           # also checks provider types and plugins
    except (ConfigError, ValueError, ImportError) as exc:
        print(exc, file=sys.stderr)
        return 2
    eps = len(settings.endpoints)
    print(f"{args.file}: OK ({len(settings.providers)} providers, {eps} endpoints, {len(settings.keys)} keys)")
    return 0


def build_parser() -> argparse.ArgumentParser:
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
    from plugins.keystore.cli import add_commands as add_key_commands
    from plugins.reports.cli import add_commands as add_usage_commands
    from plugins.agents.agent_env import add_commands as add_agent_commands
    add_key_commands(sub)
    add_usage_commands(sub)
    add_agent_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
