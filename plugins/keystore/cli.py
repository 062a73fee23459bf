"""``relaygate keys create|list|show|revoke|expire``: the key store, operated directly.

The commands open the store the configuration names (``--config``, else
``$RELAYGATE_CONFIG``, else zero-config from the environment), exactly as a
running gateway would; replicas pick the change up within
``storage.keys.refresh_seconds``.
"""

from __future__ import annotations

import argparse
import getpass
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from plugins.keystore.records import OWNER_KINDS, KeyRecord, new_key
from plugins.keystore.validation import check_key_fields, expiry_from
from plugins.keystore.store import KeyStore, make_key_store
from proxy import hookimpl
from proxy.config import ConfigError
from proxy.zeroconf import settings_from_file_or_env


def _with_store(args: argparse.Namespace, action: Callable[[KeyStore], Awaitable[int]]) -> int:
    try:
        store = make_key_store(settings_from_file_or_env(args.config))
    except (ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2

    async def run() -> int:
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _expiry(at: str | None, in_: str | None) -> float | None:
    if at and in_:
        raise ValueError("give --at/--expires-at or --in/--expires-in, not both")
    return expiry_from(at or None, in_ or None)


def _print_key(record: KeyRecord, fmt: str) -> None:
    if fmt == "json":
        _json(record.public())
        return
    for name, value in record.public().items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{name + ':':<12} {'(all)' if value is None and name == 'endpoints' else value or '-'}")


def cmd_create(args: argparse.Namespace) -> int:
    async def action(store: KeyStore) -> int:
        fields = check_key_fields(name=args.name, owner=args.owner or "", owner_kind=args.owner_kind,
                                  team=args.team or "", tags=args.tag or [], endpoints=args.endpoint or None)
        record, secret = new_key(**fields, expires_at=_expiry(args.expires_at, args.expires_in))
        await store.insert(record)
        await _audit(args, "key.create", record.id, {"name": record.name, "owner": record.owner,
                                                     "team": record.team, "expires_at": record.expires_at})
        if args.format == "json":
            _json({**record.public(), "secret": secret})
        else:
            _print_key(record, "text")
            print(f"{'secret:':<12} {secret}")
            print("store the secret now: it is shown only once", file=sys.stderr)
        return 0
    return _with_store(args, action)


def cmd_list(args: argparse.Namespace) -> int:
    async def action(store: KeyStore) -> int:
        keys = [r.public() for r in await store.list()]
        keys = [k for k in keys if (not args.owner or k["owner"] == args.owner)
                and (not args.team or k["team"] == args.team) and (not args.status or k["status"] == args.status)]
        if args.format == "json":
            _json(keys)
            return 0
        cols = ("id", "name", "prefix", "owner", "owner_kind", "team", "endpoints", "status", "created_at",
                "expires_at")
        table = [list(cols)] + [[_text(k[c], c) for c in cols] for k in keys]
        widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
        for row in table:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        return 0
    return _with_store(args, action)


def _text(value: Any, column: str = "") -> str:
    if value is None:
        return "(all)" if column == "endpoints" else "-"
    if isinstance(value, list):
        return ",".join(value) or "-"
    return str(value) or "-"


async def _audit(args: argparse.Namespace, action: str, target: str, detail: dict[str, Any]) -> None:
    """Record a change made from the command line in the audit log (who: the OS user)."""
    from plugins.audit.store import AuditEntry, make_audit_store

    store = make_audit_store(settings_from_file_or_env(args.config))
    await store.open()
    try:
        await store.append(AuditEntry(f"cli:{getpass.getuser()}", "cli", action, target, detail))
    finally:
        await store.close()


def _one(args: argparse.Namespace, op: Callable[[KeyStore], Awaitable[KeyRecord | None]],
         audited: str = "") -> int:
    async def action(store: KeyStore) -> int:
        record = await op(store)
        if record is None:
            print(f"no key with id {args.id!r}", file=sys.stderr)
            return 1
        if audited:
            await _audit(args, audited, record.id, {"name": record.name, "expires_at": record.expires_at})
        _print_key(record, args.format)
        return 0
    return _with_store(args, action)


def cmd_show(args: argparse.Namespace) -> int:
    return _one(args, lambda store: store.get(args.id))


def cmd_revoke(args: argparse.Namespace) -> int:
    return _one(args, lambda store: store.revoke(args.id), "key.revoke")


def cmd_expire(args: argparse.Namespace) -> int:
    try:
        at = _expiry(args.at, args.in_)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _one(args, lambda store: store.expire(args.id, at), "key.expire")


@hookimpl
def relaygate_add_commands(commands: Any) -> None:
    """``relaygate keys ...``."""
    keys = commands.add_parser("keys", help="create, list, show, revoke and expire gateway keys in the key store")
    ksub = keys.add_subparsers(dest="keys_command", required=True)

    def common(p: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json")) -> None:
        p.add_argument("--config", "-c", help="YAML configuration file (default: $RELAYGATE_CONFIG or zero-config)")
        p.add_argument("--format", choices=formats, default=formats[0])

    create = ksub.add_parser("create", help="create a key; prints its secret once")
    common(create)
    create.add_argument("--name", required=True)
    create.add_argument("--owner", help="user, team or agent the usage is attributed to (default: the name)")
    create.add_argument("--owner-kind", choices=OWNER_KINDS, default="user")
    create.add_argument("--team", help="team, for reports and budgets")
    create.add_argument("--tag", action="append", help="a tag (repeatable)")
    create.add_argument("--endpoint", action="append", help="allowed endpoint (repeatable; default: all)")
    create.add_argument("--expires-at", help="ISO 8601 time, UTC unless an offset is given")
    create.add_argument("--expires-in", help="a duration such as 30d, 12h, 15m")
    create.set_defaults(func=cmd_create)

    lst = ksub.add_parser("list", help="list keys (never their secrets)")
    common(lst, ("table", "json"))
    lst.add_argument("--owner")
    lst.add_argument("--team")
    lst.add_argument("--status", choices=("active", "revoked", "expired"))
    lst.set_defaults(func=cmd_list)

    for name, func, help_ in (("show", cmd_show, "show one key"), ("revoke", cmd_revoke, "revoke a key now"),
                              ("expire", cmd_expire, "expire a key now, or at --at / in --in")):
        p = ksub.add_parser(name, help=help_)
        common(p)
        p.add_argument("id", help="key id (key_...)")
        if name == "expire":
            p.add_argument("--at", help="ISO 8601 time (default: now)")
            p.add_argument("--in", dest="in_", help="a duration from now, such as 7d")
        p.set_defaults(func=func)
