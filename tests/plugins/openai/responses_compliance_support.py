"""A gateway in zero-config shape (``openai/*``, ``anthropic/*``, ``gemini/*``) over the fake
providers, and HTTP helpers that validate every answer against Open Responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from support.fake_anthropic import FakeAnthropic
from support.fake_gemini import FakeGemini
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.open_responses import final_response, validate_response, validate_stream
from support.specs import validate_openai

PROVIDERS = ("openai", "anthropic", "gemini")
#: the model each provider's wildcard endpoint is asked for
MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-sonnet-4-6",
          "gemini": "gemini/gemini-2.5-flash"}
#: the base URLs a Responses client may use
PREFIXES = ("/openai/v1", "/v1")
#: each provider's own word for "stopped at the output token limit"
LENGTH_FINISH = {"openai": "max_output_tokens", "anthropic": "max_tokens", "gemini": "MAX_TOKENS"}
PRICES = {"input": 1.0, "output": 2.0}
FAKES = {"openai": FakeOpenAI, "anthropic": FakeAnthropic, "gemini": FakeGemini}


def config(fakes: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": {p: {"type": p, "base_url": f.base_url, "api_key": f"sk-{p}"} for p, f in fakes.items()},
        "endpoints": {f"{p}/*": {"task": "any", "served_models": [
            {"name": p, "provider": p, "model": "*", "prices": PRICES}]} for p in fakes},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
    }


class Served:
    """One provider behind a running gateway, reached through one base URL."""

    def __init__(self, gw: Any, provider: str, fake: Any, prefix: str) -> None:
        self.gw, self.provider, self.fake, self.prefix = gw, provider, fake, prefix
        self.model = MODELS[provider]

    @property
    def base(self) -> str:
        return self.gw.url + self.prefix

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {TEST_KEY}"}
        async with aiohttp.ClientSession() as s, s.post(self.base + path, json=body, headers=headers) as r:
            return r.status, await r.read()

    async def create(self, **body: Any) -> dict[str, Any]:
        """A non-streamed response, validated as a Response object."""
        status, raw = await self.post("/responses", {"model": self.model, **body})
        assert status == 200, raw
        return validate_response(raw)

    async def stream(self, **body: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """A streamed response: every event validated, and the final Response object."""
        status, raw = await self.post("/responses", {"model": self.model, "stream": True, **body})
        assert status == 200, raw
        events = validate_stream(raw)
        return events, validate_response(final_response(events))

    async def refused(self, path: str, body: dict[str, Any], status: int = 400) -> dict[str, Any]:
        """An error answer in OpenAI's shape; returns its ``error`` object."""
        got, raw = await self.post(path, body)
        assert got == status, raw
        return validate_openai("ErrorResponse", json.loads(raw))["error"]


#: (provider, base URL) of every case, and their test ids
SERVED = [(p, prefix) for p in PROVIDERS for prefix in PREFIXES]
SERVED_IDS = [f"{p}-{prefix.strip('/').replace('/', '_')}" for p, prefix in SERVED]


@asynccontextmanager
async def serve(provider: str, prefix: str, tmp_path: Path) -> AsyncIterator[Served]:
    """A gateway over one fake provider (the module's ``served`` fixture wraps this)."""
    fake = await FAKES[provider]().start()
    try:
        settings = settings_for(config({provider: fake}), ledger_path=str(tmp_path / "ledger.db"))
        async with run_gateway(settings) as gw:
            yield Served(gw, provider, fake, prefix)
    finally:
        await fake.stop()


def output_text(response: dict[str, Any]) -> str:
    return "".join(c.get("text", "") for item in response["output"] if item["type"] == "message"
                   for c in item["content"])


def upstream_text(fake: Any) -> str:
    """Everything the provider was sent, as one string (to find a prompt in any wire format)."""
    return json.dumps(fake.last.body)
