"""Hot reload: on SIGHUP or when the config file changes, swap in a new Runtime atomically.

The new file is parsed, validated and built into a :class:`~proxy.gateway.Runtime`
before anything changes; a bad file leaves the running config untouched (logged
and counted as ``relaygate_config_reloads_total{result="failure"}``). A request
keeps the runtime it started with (the pipeline captures it), so in-flight
requests finish on their old config.

What cannot change without a restart: the listener (host, port, workers), the
plugin list and the stores (the ``storage`` sections). Those keep their running
values; the file is validated for the running plugins.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from proxy.config import ConfigError, load_settings
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.reload")
#: callables(result) told of each reload result ("success" / "failure"), e.g. the metrics plugin
RELOAD_LISTENERS: StashKey[list[Callable[[str], None]]] = StashKey("reload_listeners")
_RESTART_ONLY = ("host", "port", "workers")
_STORES = "storage"                    # plugins declare their stores under it (proxy.hookspecs)


def _notify(gateway: Gateway, result: str) -> None:
    for listener in gateway.stash.get(RELOAD_LISTENERS, ()):
        try:
            listener(result)
        except Exception:
            log.exception("reload listener failed")


async def reload(gateway: Gateway, path: str) -> bool:
    """Load *path* and swap it in; keep the old config if anything is wrong. Returns success."""
    old = gateway.runtime
    try:
        settings = load_settings(path, pm=gateway.pm)
        keep = {k: getattr(old.settings.server, k) for k in _RESTART_ONLY}
        update = {"server": settings.server.model_copy(update=keep), "plugins": old.settings.plugins}
        if _STORES in type(settings).model_fields:
            update[_STORES] = getattr(old.settings, _STORES)
        settings = settings.model_copy(update=update)
        runtime = gateway.build_runtime(settings)
    except (ConfigError, ValueError, ImportError) as exc:
        log.error("config reload from %s rejected, keeping the running config:\n%s", path, exc)
        _notify(gateway, "failure")
        return False
    gateway.runtime = runtime
    try:
        await gateway.hooks.config_loaded(gateway)
    except Exception:
        log.exception("config reload from %s: a plugin refused it, restoring the running config", path)
        gateway.runtime = old
        await gateway.hooks.config_loaded(gateway)
        _notify(gateway, "failure")
        return False
    log.info("config reloaded from %s: %d providers, %d endpoints, %d keys", path,
             len(settings.providers), len(settings.endpoints), len(settings.keys))
    _notify(gateway, "success")
    # Old providers may still serve in-flight requests: close them once those had time to end.
    drain = old.settings.server.drain_timeout_seconds + old.settings.server.shutdown_delay_seconds
    stale = [p for name, p in old.providers.items() if runtime.providers.get(name) is not p]
    if stale:
        asyncio.get_running_loop().call_later(drain + 60, _close_later, stale)
    return True


def _close_later(providers: list) -> None:  # type: ignore[type-arg]
    for p in providers:
        asyncio.ensure_future(p.close())  # noqa: RUF006 - fire and forget


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)              # follows the symlinks Kubernetes ConfigMaps swap
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


async def watch(gateway: Gateway, path: str, interval: float) -> None:
    """Poll *path* every *interval* seconds and reload when it changed."""
    last = _stamp(path)
    while True:
        await asyncio.sleep(interval)
        now = _stamp(path)
        if now is not None and now != last:
            last = now
            await reload(gateway, path)
