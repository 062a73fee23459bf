"""``relaygate mcp-credentials``: per-user upstream credentials in the encrypted vault."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from plugins.mcp.vault import VAULT_KEY_ENV, Vault, VaultError, new_key
from proxy import hookimpl


def _vault(args: argparse.Namespace) -> Vault:
    from plugins.mcp.config import McpConfig
    from proxy.zeroconf import settings_from_file_or_env

    settings = settings_from_file_or_env(args.config)
    config = settings.section(McpConfig)
    key = config.vault_key.get_secret_value() if config.vault_key else os.environ.get(VAULT_KEY_ENV, "")
    return Vault(config.vault_path, key)


def cmd_credentials(args: argparse.Namespace) -> int:
    if args.action == "new-key":
        print(new_key())
        return 0
    try:
        vault = _vault(args)
        if args.action == "set":
            secret = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("credential: ")
            if not secret:
                print("error: empty credential", file=sys.stderr)
                return 2
            vault.put(args.server, args.owner, secret)
            print(f"stored the credential of {args.owner!r} for MCP server {args.server!r} (encrypted)")
        elif not vault.delete(args.server, args.owner):
            print(f"no credential of {args.owner!r} for {args.server!r}", file=sys.stderr)
            return 1
    except VaultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


@hookimpl
def relaygate_add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("mcp-credentials", help="store per-user MCP upstream credentials (encrypted)")
    p.add_argument("action", choices=("set", "delete", "new-key"))
    p.add_argument("--server", default="")
    p.add_argument("--owner", default="", help="the key owner (or key id) the credential belongs to")
    p.add_argument("--config", help="config file (default: $RELAYGATE_CONFIG)")
    p.set_defaults(func=cmd_credentials)
