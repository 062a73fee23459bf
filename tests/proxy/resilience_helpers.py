"""Shared helpers for the resilience tests: two-provider configs and a raw HTTP client."""

from __future__ import annotations

from typing import Any

import aiohttp
from support.gateway import TEST_KEY

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Hi"}]}
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def two_model_config(primary_url: str, backup_url: str | None = None, *, retry: dict[str, Any] | None = None,
                     breaker: dict[str, Any] | None = None, timeouts: dict[str, Any] | None = None,
                     server: dict[str, Any] | None = None) -> dict[str, Any]:
    """Endpoint "chat": served model "primary" (100%), optionally "backup" (0%) as its fallback."""
    providers = {"p1": {"type": "openai", "base_url": primary_url, "api_key": "sk-upstream-one"}}
    served = [{"name": "primary", "provider": "p1", "model": "gpt-4o-mini", "traffic_percentage": 100}]
    endpoint: dict[str, Any] = {"task": "chat", "served_models": served,
                                "retry": {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05,
                                          **(retry or {})},
                                "circuit_breaker": {"consecutive_failures": 50, **(breaker or {})},
                                "timeouts": {"connect_seconds": 1, "first_byte_seconds": 2, "idle_seconds": 2,
                                             "total_seconds": 10, **(timeouts or {})}}
    if backup_url is not None:
        providers["p2"] = {"type": "openai", "base_url": backup_url, "api_key": "sk-upstream-two"}
        served.append({"name": "backup", "provider": "p2", "model": "gpt-4o", "traffic_percentage": 0})
        endpoint["fallbacks"] = ["backup"]
    return {"providers": providers, "endpoints": {"chat": endpoint}, "server": server or {},
            "keys": [{"name": "alice-key", "key": TEST_KEY, "owner": "alice"}]}


async def post_chat(url: str, body: dict[str, Any] | None = None, **kw: Any) -> tuple[int, Any, bytes]:
    async with aiohttp.ClientSession() as s, s.post(url + "/v1/chat/completions", json=body or CHAT,
                                                    headers={**AUTH, **kw.pop("headers", {})}, **kw) as r:
        return r.status, r.headers.copy(), await r.read()   # case-insensitive
