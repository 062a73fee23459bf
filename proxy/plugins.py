"""Building the plugin manager: built-ins, then entry points, then the config's list."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from proxy import PROJECT, hookspecs

#: Every built-in behaviour, as a plugin module. Order is registration order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.apis.openai_chat",
    "plugins.apis.openai_responses",
    "plugins.apis.openai_embeddings",
    "plugins.apis.openai_completions",
    "plugins.apis.reference_params",
    "plugins.providers.openai",
    "plugins.surfaces.unified",
    "plugins.surfaces.openai_native",
    "plugins.apis.anthropic_messages",
    "plugins.providers.anthropic",
    "plugins.surfaces.anthropic",
    "plugins.apis.gemini",
    "plugins.providers.gemini",
    "plugins.providers.vertex",
    "plugins.surfaces.gemini",
    "plugins.translate.registry",
    "plugins.translate.responses_store",
    "plugins.auth.keys",
    "plugins.keystore.auth",
    "plugins.agents.governance",
    "plugins.admin.api",
    "plugins.routing.traffic_split",
    "plugins.metering.pricing",
    "plugins.limits.admission",
    "plugins.metering.ledger",
    "plugins.payloads.recorder",
    "plugins.guardrails.filters",
    "plugins.metrics.prometheus",
    "plugins.health",
    "plugins.logs.access",
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
