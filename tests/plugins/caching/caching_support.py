"""A gateway with an Anthropic, an OpenAI and a Gemini provider (fakes), one endpoint each."""

from __future__ import annotations

import socket
from typing import Any

import anthropic
import openai
import redis.asyncio as aioredis
from google import genai
from google.genai import types
from support.gateway import TEST_KEY
from support.redis_server import REDIS_URL, require_redis  # noqa: F401  (re-exported to the tests)


def three_provider_config(fake_anthropic, fake_openai, fake_gemini, **endpoint_extra: Any) -> dict[str, Any]:
    def ep(name: str, provider: str, model: str) -> dict[str, Any]:
        return {"task": "chat", "served_models": [{"name": name, "provider": provider, "model": model}],
                **endpoint_extra}
    return {
        "providers": {"ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk-ant-up"},
                      "oai": {"type": "openai", "base_url": fake_openai.base_url, "api_key": "sk-oai-up"},
                      "gem": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "g-up"}},
        "endpoints": {"claude": ep("claude", "ant", "claude-sonnet-4-5"),
                      "gpt": ep("gpt", "oai", "gpt-4o-mini"),
                      "flash": ep("flash", "gem", "gemini-2.5-flash")},
        "keys": [{"name": "alice-key", "key": TEST_KEY, "owner": "alice", "team": "ml"},
                 {"name": "bob-key", "key": TEST_KEY + "-bob", "owner": "bob", "team": "web"}],
    }


def openai_client(gw, path: str = "/openai/v1", key: str = TEST_KEY, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + path, api_key=key, max_retries=0, **kw)


def anthropic_client(gw, key: str = TEST_KEY, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="unused", base_url=gw.url + "/anthropic",
                               default_headers={"Authorization": f"Bearer {key}", **kw.pop("headers", {})},
                               max_retries=0, **kw)


def gemini_client(gw, key: str = TEST_KEY, headers: dict[str, str] | None = None) -> genai.Client:
    return genai.Client(api_key="unused", http_options=types.HttpOptions(
        base_url=gw.url + "/gemini", headers={"Authorization": f"Bearer {key}", **(headers or {})}))




async def clear_prefix(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
