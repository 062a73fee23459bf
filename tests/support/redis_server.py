"""The local Redis the multi-replica tests share: skipped on a developer machine without it, a failure under CI=true."""

from __future__ import annotations

import os

import pytest
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("RELAYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def require_redis() -> None:
    """Skip when Redis is unreachable on a developer machine; fail under CI=true."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is required under CI=true but unreachable at {REDIS_URL}: {exc}", pytrace=False)
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
