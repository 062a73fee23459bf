"""Helpers for the limits tests: a controllable clock and Redis that FAILS under CI=true when missing."""

from __future__ import annotations

import os
import uuid

import pytest

from plugins.limits.redis_backend import RedisBackend
from plugins.limits.windows import MemoryBackend
from support.redis_server import REDIS_URL, require_redis



class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def unique_prefix() -> str:
    return f"rgtest:{uuid.uuid4().hex[:12]}:"


async def make_backend(kind: str, clock: FakeClock | None) -> MemoryBackend | RedisBackend:
    if kind == "memory":
        return MemoryBackend(clock) if clock is not None else MemoryBackend()
    await require_redis()
    return RedisBackend(REDIS_URL, unique_prefix(), clock=clock)


async def drop_backend(backend: MemoryBackend | RedisBackend) -> None:
    await backend.clear()
    await backend.close()


PG_DSN = os.environ.get("RELAYGATE_TEST_POSTGRES_DSN", "postgresql://root@127.0.0.1:5432/test")


async def postgres_schema() -> str:
    """A fresh schema name on the test PostgreSQL; skip when unreachable, FAIL under CI=true."""
    import asyncpg

    try:
        con = await asyncpg.connect(PG_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable at {PG_DSN}: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable at {PG_DSN}: {exc}")
    await con.close()
    return "rg_limits_" + uuid.uuid4().hex[:12]


async def drop_schema(schema: str) -> None:
    import asyncpg

    con = await asyncpg.connect(PG_DSN, timeout=3)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await con.close()
