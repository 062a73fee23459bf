"""Gateway keys from the key store: open it at start-up and authenticate with its cache.

Runs before the config keys (``plugins.auth.keys`` is ``trylast``) and looks
at the presented keys in the same order of preference. A stored key that
was revoked or has expired is refused with a message that says so, never
treated as merely unknown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from plugins.auth.keys import STATE as CONFIG_KEYS, presented_digests
from plugins.health import CHECKS
from plugins.keystore.store import KeyCache, make_key_store
from proxy import hookimpl
from proxy.errors import AuthenticationFailed

if TYPE_CHECKING:
    from plugins.auth.keys import KeyTable
    from proxy.context import Principal, RequestContext
    from proxy.gateway import Gateway

STATE = "plugins.keystore"


def key_cache(gateway: Gateway) -> KeyCache:
    cache: KeyCache | None = gateway.state.get(STATE)
    if cache is None:
        raise RuntimeError("the key store is not open")
    return cache


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    store = make_key_store(gateway.settings)
    await store.open()
    cache = KeyCache(store, gateway.settings.storage.keys.refresh_seconds)
    await cache.start()
    gateway.state[STATE] = cache
    gateway.state.setdefault(CHECKS, {})["keys"] = cache.healthy


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    cache: KeyCache | None = gateway.state.pop(STATE, None)
    if cache is not None:
        await cache.stop()
        await cache.store.close()


@hookimpl
def relaygate_authenticate(ctx: RequestContext) -> Principal | None:
    cache: KeyCache | None = ctx.gateway.state.get(STATE)
    if cache is None or not len(cache):
        return None
    config_keys: KeyTable | None = ctx.gateway.state.get(CONFIG_KEYS)
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
