"""Zero-config mode: a working gateway from the environment the official SDKs read.

A provider is configured when its key or base-URL variable is set; each one
becomes a wildcard endpoint ``<provider>/*`` so ``openai/gpt-4o-mini`` routes
to model ``gpt-4o-mini`` of the ``openai`` provider. Commands without a config
file (``relaygate serve``, plugin commands) fall back to it:
:func:`settings_from_file_or_env`.

A parameter a provider cannot express (Codex's ``web_search`` tool on Claude,
Gemini CLI's ``topK`` on GPT) follows ``RELAYGATE_UNSUPPORTED_PARAMS``: ``agents``
(the default here: coding agents get hosted tools and sampling knobs dropped, named
in ``x-relaygate-dropped``; other clients get a 400 naming the parameter),
``reject`` or ``drop``. ``GET .../models`` lists each provider's own models
(``openai/gpt-4o-mini``, ...); ``RELAYGATE_MODELS`` (comma-separated ids) is the list
used when a provider cannot be asked.
"""

from __future__ import annotations

import os
from typing import Any

from proxy.config import ConfigError, Settings, load_settings, validate_settings

# (provider name, type, key variables, base-URL variable, default base URL)
_PROVIDERS: tuple[tuple[str, str, tuple[str, ...], str, str], ...] = (
    ("openai", "openai", ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    ("anthropic", "anthropic", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    ("gemini", "gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "GOOGLE_GEMINI_BASE_URL",
     "https://generativelanguage.googleapis.com"),
)


UNSUPPORTED_POLICIES = ("agents", "reject", "drop")


def _unsupported_policy(env: dict[str, str]) -> str:
    policy = env.get("RELAYGATE_UNSUPPORTED_PARAMS", "").strip().lower() or "agents"
    if policy not in UNSUPPORTED_POLICIES:
        raise ConfigError(f"RELAYGATE_UNSUPPORTED_PARAMS must be one of {', '.join(UNSUPPORTED_POLICIES)}; "
                          f"got {env['RELAYGATE_UNSUPPORTED_PARAMS']!r}")
    return policy


def settings_from_env(env: dict[str, str]) -> Settings:
    providers: dict[str, Any] = {}
    endpoints: dict[str, Any] = {}
    policy = _unsupported_policy(env)
    for name, type_, key_vars, url_var, default_url in _PROVIDERS:
        key = next((env[v] for v in key_vars if env.get(v)), None)
        base_url = env.get(url_var) or None
        if key is None and base_url is None:
            continue
        providers[name] = {"type": type_, "base_url": base_url or default_url, "api_key": key}
        endpoints[f"{name}/*"] = {"task": "any", "unsupported_params": policy, "served_models": [
            {"name": name, "provider": name, "model": "*"}]}
    keys = [{"name": f"env-{i}", "key": k.strip(), "owner": "default"}
            for i, k in enumerate(env.get("RELAYGATE_API_KEYS", "").split(","), 1) if k.strip()]
    data: dict[str, Any] = {"providers": providers, "endpoints": endpoints, "keys": keys}
    if env.get("RELAYGATE_LEDGER_PATH"):
        data["storage"] = {"ledger": {"path": env["RELAYGATE_LEDGER_PATH"]}}
    # model ids to list when a provider cannot say which models it serves (plugins/models)
    models = [m.strip() for m in env.get("RELAYGATE_MODELS", "").split(",") if m.strip()]
    if models:
        data["model_list"] = {"models": models}
    return validate_settings(data).model_copy(update={"source": "environment (zero-config)"})


def settings_from_file_or_env(path: str | None = None) -> Settings:
    """The settings a command runs with: the file *path*, else ``$RELAYGATE_CONFIG``, else
    zero-config from the environment."""
    path = path or os.environ.get("RELAYGATE_CONFIG")
    if path:
        return load_settings(path)
    return settings_from_env(dict(os.environ))
