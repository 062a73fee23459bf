"""Gateway keys from the key store: open it at start-up and authenticate with its cache.

Runs before the config keys (``plugins.auth.keys`` is ``trylast``) and looks
at the presented keys in the same order of preference. A stored key that
was revoked or has expired is refused with a message that says so, never
treated as merely unknown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from plugins.auth.keys import KEY_TABLE, presented_digests
from plugins.keystore.config import KeyStoreConfig
from plugins.keystore.store import KeyCache, make_key_store
from proxy import hookimpl
from proxy.errors import AuthenticationFailed
from proxy.gateway import DEPENDENCY_CHECKS
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import Principal, RequestContext
    from proxy.gateway import Gateway
    from proxy.sections import Spec

#: the key store's in-memory cache, open from start-up to shutdown
KEY_CACHE: StashKey[KeyCache] = StashKey("keystore.cache")


def key_cache(gateway: Gateway) -> KeyCache:
    cache = gateway.stash.get(KEY_CACHE)
    if cache is None:
        raise RuntimeError("the key store is not open")
    return cache


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"storage.keys": KeyStoreConfig}


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    store = make_key_store(gateway.settings)
    await store.open()
    cache = KeyCache(store, gateway.settings.section(KeyStoreConfig).refresh_seconds)
    await cache.start()
    gateway.stash[KEY_CACHE] = cache
    # Keys are served from the last good copy while the store is unreachable: degraded, still ready.
    gateway.stash.setdefault(DEPENDENCY_CHECKS, {})["keys"] = cache.healthy


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    cache = gateway.stash.pop(KEY_CACHE, None)
    if cache is not None:
        await cache.stop()
        await cache.store.close()


@hookimpl
def relaygate_authenticate(ctx: RequestContext) -> Principal | None:
    cache = ctx.gateway.stash.get(KEY_CACHE)
    if cache is None or not len(cache):
        return None
    config_keys = ctx.gateway.stash.get(KEY_TABLE)
    refusal = None
    now = time.time()
    for key_digest in presented_digests(ctx):
        record = cache.lookup_digest(key_digest)
        if record is None:
            if config_keys is not None and config_keys.lookup_digest(key_digest) is not None:
                return None               # a config key comes first: its plugin answers
            continue
        why = record.refusal(now)
        if why is None:
            return record.principal()
        refusal = refusal or why
    if refusal is not None:
        raise AuthenticationFailed(refusal)
    return None
