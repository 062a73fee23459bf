"""Building the plugin manager: built-ins, then entry points, then the config's list."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from proxy import PROJECT, hookspecs

#: Every built-in behaviour, as a plugin module. Order is registration order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.openai.chat_api",
    "plugins.openai.responses_api",
    "plugins.openai.embeddings_api",
    "plugins.openai.completions_api",
    "plugins.unified.reference_params",
    "plugins.unified.embedding_ids",
    "plugins.openai.provider",
    "plugins.unified.surface",
    "plugins.unified.vertex_surface",
    "plugins.openai.surface",
    "plugins.anthropic.api",
    "plugins.anthropic.provider",
    "plugins.anthropic.surface",
    "plugins.gemini.api",
    "plugins.gemini.provider",
    "plugins.gemini.vertex",
    "plugins.gemini.surface",
    "plugins.translate.registry",
    "plugins.models.listing",
    "plugins.openai.responses_store",
    "plugins.openai.response_owners",
    "plugins.openai.responses_compact",
    "plugins.openai.responses_ws",
    "plugins.sso.auth",
    "plugins.sso.metadata",
    "plugins.auth.keys",
    "plugins.keystore.auth",
    "plugins.agents.governance",
    "plugins.audit.log",
    "plugins.admin.api",
    "plugins.admin.audit_api",
    "plugins.console.routes",
    "plugins.routing.traffic_split",
    "plugins.metering.pricing",
    "plugins.limits.admission",
    "plugins.limits.subjects",
    "plugins.metering.ledger",
    "plugins.response_cache.plugin",
    "plugins.prompt_cache.plugin",
    "plugins.payloads.recorder",
    "plugins.guardrails.filters",
    "plugins.mcp.surface",             # /mcp and /mcp/{server}: the MCP gateway
    "plugins.mcp.admin_credentials",
    "plugins.metrics.prometheus",
    "plugins.health",
    "plugins.openapi",
    "plugins.logs.access",
    "plugins.tracing.setup",          # registers plugins.tracing.spans at start-up when telemetry is on
    # command-line only (relaygate keys / usage / prices / agent-env)
    "plugins.keystore.cli",
    "plugins.reports.cli",
    "plugins.reports.reconcile_cli",
    "plugins.metering.prices_cli",
    "plugins.agents.agent_env",
    "plugins.mcp.cli",
    "plugins.sso.login_cli",
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


def plugins_of(config: object) -> list[str]:
    """The plugin modules a config mapping lists (``plugins:``). Read before the rest is
    validated, since they may declare sections; a malformed entry is left to that validation."""
    listed = config.get("plugins") if isinstance(config, dict) else None
    return [name for name in listed if isinstance(name, str)] if isinstance(listed, list) else []
