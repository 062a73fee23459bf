"""Helpers for the key store, admin API and usage report tests."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from typing import Any

import aiohttp
import pytest
from support.gateway import openai_config

ADMIN_TOKEN = "rg-admin-token-for-tests-0123456789"
PG_DSN = os.environ.get("RELAYGATE_TEST_POSTGRES_DSN", "postgresql://root@127.0.0.1:5432/test")
MESSAGES = [{"role": "user", "content": "hi"}]


def keys_config(base_url: str, *, keys_storage: dict[str, Any] | None = None,
                admin_token: str | None = ADMIN_TOKEN) -> dict[str, Any]:
    """Two endpoints ("chat", "other-ep") and a wildcard; one config key; the admin token."""
    served = [{"name": "gpt", "provider": "openai", "model": "gpt-4o-mini", "prices": {"input": 1.0, "output": 2.0}}]
    cfg = openai_config(base_url, endpoints={
        "chat": {"task": "any", "served_models": served},
        "other-ep": {"task": "any", "served_models": [{**served[0], "name": "gpt-other"}]},
        "openai/*": {"task": "any", "served_models": [{"name": "openai", "provider": "openai", "model": "*"}]},
    })
    cfg["storage"] = {"keys": {"refresh_seconds": 0.2, **(keys_storage or {})}}
    if admin_token is not None:
        cfg["admin"] = {"token": admin_token}
    return cfg


def auth_styles(secret: str) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Every way a client may present a gateway key: name -> (headers, query)."""
    basic = base64.b64encode(f"token:{secret}".encode()).decode()
    return {
        "bearer": ({"Authorization": f"Bearer {secret}"}, {}),
        "basic": ({"Authorization": f"Basic {basic}"}, {}),
        "x-api-key": ({"x-api-key": secret}, {}),
        "x-goog-api-key": ({"x-goog-api-key": secret}, {}),
        "query": ({}, {"key": secret}),
    }


async def chat(url: str, secret: str, model: str = "chat") -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(
            url + "/v1/chat/completions", json={"model": model, "messages": MESSAGES},
            headers={"Authorization": f"Bearer {secret}"}) as r:
        return r.status, await r.json(content_type=None)


class Admin:
    """The admin API of one running gateway."""

    def __init__(self, url: str, token: str = ADMIN_TOKEN) -> None:
        self.url = url + "/admin/v1"
        self.token = token

    async def call(self, method: str, path: str, *, json: Any = None, token: str | None = None,
                   params: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        async with aiohttp.ClientSession() as s, s.request(method, self.url + path, json=json, headers=headers,
                                                           params=params) as r:
            text = await r.text()
            if r.content_type == "application/json":
                import json as _json
                return r.status, _json.loads(text)
            return r.status, text

    async def create(self, **body: Any) -> dict[str, Any]:
        status, data = await self.call("POST", "/keys", json=body)
        assert status == 201, data
        return data  # type: ignore[no-any-return]

    async def revoke(self, key_id: str) -> dict[str, Any]:
        status, data = await self.call("POST", f"/keys/{key_id}/revoke")
        assert status == 200, data
        return data  # type: ignore[no-any-return]


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Await ``check()`` until it returns something truthy; fail after *timeout* seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last result {result!r})")
        await asyncio.sleep(interval)


async def postgres_schema() -> str:
    """A fresh schema name on the test server; FAIL under CI=true when the server is missing."""
    import asyncpg

    try:
        con = await asyncpg.connect(PG_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable at {PG_DSN}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_DSN}: {exc}")
    await con.close()
    return "rg_keys_" + uuid.uuid4().hex[:12]


async def drop_schema(schema: str) -> None:
    import asyncpg

    con = await asyncpg.connect(PG_DSN, timeout=3)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await con.close()
