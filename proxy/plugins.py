"""Building the plugin manager: built-ins, then entry points, then the config's list."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from proxy import PROJECT, hookspecs

#: Every built-in behaviour, as a plugin module. Order is registration order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.apis.openai_chat",
    "plugins.providers.openai",
    "plugins.surfaces.unified",
    "plugins.auth.keys",
    "plugins.routing.traffic_split",
    "plugins.metering.pricing",
    "plugins.metering.ledger",
    "plugins.metrics.prometheus",
    "plugins.health",
)


def make_plugin_manager(extra: Iterable[str] = (), *, defaults: Iterable[str] = DEFAULT_PLUGINS,
                        entry_points: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in defaults:
        pm.register(importlib.import_module(name), name=name)
    if entry_points:
        pm.load_setuptools_entrypoints(PROJECT)
    for name in extra:
        if pm.has_plugin(name):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(f"plugins: cannot import {name!r}: {exc}") from exc
        pm.register(module, name=name)
    pm.check_pending()
    return pm
