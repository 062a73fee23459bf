"""The audit log: every admin action, with who did it and when (plugin ``plugins.audit.log``).

Other plugins call :func:`record`; the admin API lists and exports it (plugins/admin/audit_api.py)
and the console shows it. Config reloads are recorded here from ``relaygate_config_loaded``: the
entry names the sections that changed (``limits`` for a budget change), and who asked for the
reload when it came through the admin API, else ``config-file`` (SIGHUP or the file watch).
A failed write is logged, never allowed to fail the action it records.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import SecretStr

from plugins.audit.store import AuditEntry, AuditStore, make_audit_store
from proxy import hookimpl
from proxy.reload import RELOAD_LISTENERS
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.audit")

AUDIT_STORE: StashKey[AuditStore] = StashKey("audit.store")
#: a digest of each top-level config section as last loaded, to name what a reload changed
_SECTIONS: StashKey[dict[str, str]] = StashKey("audit.sections")
#: who asked for the reload now in progress (the admin API sets it; None: the config file)
RELOAD_ACTOR: StashKey[tuple[str, str]] = StashKey("audit.reload_actor")


async def record(gateway: Gateway, entry: AuditEntry) -> None:
    store = gateway.stash.get(AUDIT_STORE)
    log.info("audit: %s %s %s", entry.actor, entry.action, entry.target)
    if store is None:
        return
    try:
        await store.append(entry)
    except Exception:
        log.exception("audit: could not store %s by %s", entry.action, entry.actor)


def _plain(value: Any) -> str:
    # a secret counts by its digest: changing only a key or a password still names its section
    if isinstance(value, SecretStr):
        return hashlib.sha256(value.get_secret_value().encode()).hexdigest()
    return str(value)


def _digests(gateway: Gateway) -> dict[str, str]:
    data: dict[str, Any] = gateway.settings.model_dump(exclude={"source"})
    return {name: hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
                                              default=_plain)).hexdigest()
            for name, value in data.items()}


def changed_sections(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    store = make_audit_store(gateway.settings)
    await store.open()
    gateway.stash[AUDIT_STORE] = store

    def on_reload(result: str) -> None:
        if result == "failure":
            actor, kind = gateway.stash.pop(RELOAD_ACTOR, ("config-file", "system"))
            asyncio.ensure_future(record(gateway, AuditEntry(  # noqa: RUF006 - fire and forget
                actor, kind, "config.reload_rejected", gateway.settings.source)))

    gateway.stash.setdefault(RELOAD_LISTENERS, []).append(on_reload)


@hookimpl
async def relaygate_config_loaded(gateway: Gateway) -> None:
    before = gateway.stash.get(_SECTIONS)
    after = gateway.stash[_SECTIONS] = _digests(gateway)
    if before is None:
        return                                   # the first load, at start-up: not an action
    actor, kind = gateway.stash.pop(RELOAD_ACTOR, ("config-file", "system"))
    await record(gateway, AuditEntry(actor, kind, "config.reload", gateway.settings.source,
                                     {"changed_sections": changed_sections(before, after)}))


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    store = gateway.stash.pop(AUDIT_STORE, None)
    if store is not None:
        await store.close()
