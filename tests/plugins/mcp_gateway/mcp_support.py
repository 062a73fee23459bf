"""Shared set-up of the MCP gateway tests: the SDK's client through the gateway, and a config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ALICE = "rg-alice-key-0123456789"      # team platform: echo, add, whoami, the review prompt, docs:// resources
BOB = "rg-bob-key-0123456789"          # team guests: echo only
EVE = "rg-eve-key-0123456789"          # no grant at all
ACCEPT = "application/json, text/event-stream"


def mcp_config(servers: dict[str, dict[str, Any]], **mcp: Any) -> dict[str, Any]:
    grants = [
        {"teams": ["platform"], "servers": {"*": {"tools": ["echo", "add", "whoami", "leak"], "prompts": ["review"],
                                                  "resources": ["docs://*"]}}},
        {"keys": ["bob-key"], "servers": {"tools": {"tools": ["echo"]}}},
    ]
    return {
        "keys": [{"name": "alice-key", "key": ALICE, "owner": "alice", "team": "platform"},
                 {"name": "bob-key", "key": BOB, "owner": "bob", "team": "guests"},
                 {"name": "eve-key", "key": EVE, "owner": "eve", "team": "outsiders"}],
        "mcp_servers": servers,
        "mcp": {"policies": grants, **mcp},
    }


@asynccontextmanager
async def mcp_client(url: str, key: str | None, headers: dict[str, str] | None = None,
                     **kwargs: Any) -> AsyncIterator[Client]:
    """The ``mcp`` SDK's own client, over streamable HTTP, with the gateway key as a Bearer token."""
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    async with httpx2.AsyncClient(headers=sent, timeout=httpx2.Timeout(30, read=60)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode="legacy", **kwargs) as client:
            yield client
