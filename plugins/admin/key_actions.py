"""Creating and revoking stored keys, audited: shared by the admin API and the console."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from plugins.admin.actors import Actor
from plugins.audit.log import record
from plugins.audit.store import AuditEntry
from plugins.keystore.auth import key_cache
from plugins.keystore.records import KeyRecord, new_key
from plugins.keystore.validation import check_key_fields, expiry_from

if TYPE_CHECKING:
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.admin")


async def create_key(gateway: Gateway, actor: Actor, body: dict[str, Any]) -> tuple[KeyRecord, str]:
    """Check everything, store the key, make it usable on this replica at once; (record, secret)."""
    # Everything is checked before anything is stored: a value that cannot be shown again
    # (an expiry past year 9999) must never reach the store.
    fields = check_key_fields(name=body.get("name"), owner=body.get("owner", ""),
                              owner_kind=body.get("owner_kind", "user"), team=body.get("team", ""),
                              tags=body.get("tags") or [], endpoints=body.get("endpoints"))
    key, secret = new_key(**fields, expires_at=expiry_from(body.get("expires_at"), body.get("expires_in")))
    cache = key_cache(gateway)
    await cache.store.insert(key)
    await cache.refresh()
    log.info("admin: %s created key %s (%s) for %s", actor.name, key.id, key.name, key.owner)
    await record(gateway, AuditEntry(actor.name, actor.kind, "key.create", key.id, {
        "name": key.name, "owner": key.owner, "team": key.team, "endpoints": key.endpoints,
        "expires_at": key.expires_at}))
    return key, secret


async def revoke_key(gateway: Gateway, actor: Actor, key_id: str) -> KeyRecord | None:
    cache = key_cache(gateway)
    key = await cache.store.revoke(key_id)
    if key is not None:
        await cache.refresh()
        log.info("admin: %s revoked key %s", actor.name, key_id)
        await record(gateway, AuditEntry(actor.name, actor.kind, "key.revoke", key_id, {"name": key.name}))
    return key
