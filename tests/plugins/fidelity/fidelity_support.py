"""One gateway over the three fake providers, for the reference-conformance and client-shape suites.

Endpoints: ``claude`` (Anthropic, default API version), ``claude-2026`` (an Anthropic provider whose
config names API version 2026-10-21), ``gem`` (Gemini), ``gpt`` (OpenAI), ``compat`` (an
OpenAI-compatible server), the same with ``-drop`` for ``unsupported_params: drop``,
completions (``c-claude``, ``c-gem``), embeddings (``e-gem``, ``e-gpt``) and the zero-config
style wildcard ``gemini/*``. Aliases: ``sonnet`` -> ``claude``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from support.gateway import TEST_KEY, run_gateway, settings_for

CHAT_ENDPOINTS = {"claude": ("ant", "claude-sonnet-4-6"), "claude-2026": ("ant2026", "claude-sonnet-4-6"),
                  "gem": ("gem", "gemini-2.5-flash"), "gpt": ("oai", "gpt-4o-mini"), "compat": ("compat", "llama")}


def fidelity_config(anthropic_url: str, gemini_url: str, openai_url: str) -> dict[str, Any]:
    providers = {"ant": {"type": "anthropic", "base_url": anthropic_url, "api_key": "a"},
                 "ant2026": {"type": "anthropic", "base_url": anthropic_url, "api_key": "a",
                             "api_version": "2026-10-21"},
                 "gem": {"type": "gemini", "base_url": gemini_url, "api_key": "g"},
                 "oai": {"type": "openai", "base_url": openai_url, "api_key": "o"},
                 "compat": {"type": "openai_compatible", "base_url": openai_url, "api_key": "c"}}
    endpoints: dict[str, Any] = {}
    for name, (provider, model) in CHAT_ENDPOINTS.items():
        served = [{"name": "m", "provider": provider, "model": model}]
        endpoints[name] = {"task": "chat", "max_n": 4, "served_models": served}
        endpoints[name + "-drop"] = {"task": "chat", "unsupported_params": "drop", "served_models": served}
    for name, provider, model in (("c-claude", "ant", "claude-sonnet-4-6"), ("c-gem", "gem", "gemini-2.5-flash"),
                                  ("c-gpt", "oai", "gpt-3.5-turbo-instruct")):
        endpoints[name] = {"task": "completions", "served_models": [{"name": "m", "provider": provider,
                                                                      "model": model}]}
    endpoints["e-gem"] = {"task": "embeddings", "served_models": [{"name": "m", "provider": "gem",
                                                                   "model": "gemini-embedding-001"}]}
    endpoints["e-gpt"] = {"task": "embeddings", "served_models": [{"name": "m", "provider": "oai",
                                                                   "model": "text-embedding-3-small"}]}
    endpoints["gemini/*"] = {"task": "any", "served_models": [{"name": "g", "provider": "gem", "model": "*"}]}
    return {"providers": providers, "endpoints": endpoints, "aliases": {"sonnet": "claude"},
            "keys": [{"name": "k", "key": TEST_KEY}]}


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """POST *body* as JSON with the test key; (status, parsed JSON or text, headers)."""
    async with aiohttp.ClientSession() as s, s.post(
            url, json=body, headers={"Authorization": f"Bearer {TEST_KEY}", **(headers or {})}) as r:
        text = await r.text()
        try:
            parsed: Any = await r.json(content_type=None)
        except ValueError:
            parsed = text
        return r.status, parsed, dict(r.headers)


@asynccontextmanager
async def fidelity_gateway(fake_anthropic: Any, fake_gemini: Any, fake_openai: Any, tmp_path: Any):
    config = fidelity_config(fake_anthropic.base_url, fake_gemini.base_url, fake_openai.base_url)
    async with run_gateway(settings_for(config, ledger_path=str(tmp_path / "ledger.db"))) as running:
        yield running
