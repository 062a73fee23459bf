"""Two gateway replicas share one response cache in Redis.

The second identical request, sent to the OTHER replica, is answered without a
provider call; tenants stay apart; streams replay for the official SDK; and with
Redis down every request is still served (by the provider).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AsyncExitStack

import pytest
from caching_support import (
    REDIS_URL,
    anthropic_client,
    clear_prefix,
    free_port,
    openai_client,
    require_redis,
    three_provider_config,
)
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for

#: Anthropic's API version 2026-10-21 takes no temperature: the client asks for caching instead
USE = {"x-relaygate-cache": "use"}
ASK = [{"role": "user", "content": "Name a prime number."}]
CACHE = {"mode": "exact", "ttl_seconds": 60, "backend": "redis"}


def replica_config(fakes, redis_url: str, prefix: str) -> dict:
    cfg = three_provider_config(*fakes, cache=CACHE)
    cfg["response_cache"] = {"redis_url": redis_url, "redis_prefix": prefix, "retry_after_seconds": 1}
    return cfg


async def start_replicas(stack: AsyncExitStack, cfg: dict, tmp_path, n: int = 2) -> list:
    return [await stack.enter_async_context(run_gateway(settings_for(cfg, ledger_path=str(tmp_path / f"r{i}.db"))))
            for i in range(n)]


@pytest.fixture
async def prefix():
    await require_redis()
    p = f"rgtest:rc:{uuid.uuid4().hex[:12]}:"
    yield p
    await clear_prefix(p)


def ask(gw, key: str = TEST_KEY, **kw):
    return openai_client(gw, key=key).chat.completions.with_raw_response.create(
        model="gpt", messages=ASK, temperature=0, **kw)


async def until_stored(gw, key: str = TEST_KEY, **kw):
    """The store is written after the answer went out: wait for it to land (bounded)."""
    deadline = time.monotonic() + 5
    while True:
        r = await asyncio.to_thread(ask, gw, key, **kw)
        if r.headers["x-relaygate-cache"] == "hit" or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.05)


async def test_second_request_on_the_other_replica_is_served_from_redis(
        fake_anthropic, fake_openai, fake_gemini, prefix, tmp_path):
    fake_openai.always(Behavior(text="7"))
    async with AsyncExitStack() as stack:
        a, b = await start_replicas(stack, replica_config((fake_anthropic, fake_openai, fake_gemini),
                                                          REDIS_URL, prefix), tmp_path)
        first = await asyncio.to_thread(ask, a)
        assert first.headers["x-relaygate-cache"] == "miss"
        second = await until_stored(b)
        assert second.headers["x-relaygate-cache"] == "hit"
        assert second.parse().choices[0].message.content == "7"
        assert len(fake_openai.requests) == 1                   # never a second provider call
        rows = await b.ledger_rows()
        assert rows[-1]["cache_hit"] == 1 and rows[-1]["cost_usd"] == 0 and rows[-1]["saved_cost_usd"] > 0
        # another tenant (bob) on either replica gets its own answer from the provider
        bob = await asyncio.to_thread(ask, a, TEST_KEY + "-bob")
        assert bob.headers["x-relaygate-cache"] == "miss" and len(fake_openai.requests) == 2


async def test_streams_replay_across_replicas_for_the_sdks(fake_anthropic, fake_openai, fake_gemini, prefix,
                                                           tmp_path):
    fake_openai.always(Behavior(text="eleven is prime", chunks=3))
    fake_anthropic.always(Behavior(text="thirteen", chunks=2))
    async with AsyncExitStack() as stack:
        a, b = await start_replicas(stack, replica_config((fake_anthropic, fake_openai, fake_gemini),
                                                          REDIS_URL, prefix), tmp_path)

        def openai_stream(gw) -> tuple[str, str]:
            with openai_client(gw).chat.completions.with_streaming_response.create(
                    model="gpt", messages=ASK, temperature=0, stream=True) as r:
                text = "".join(c.choices[0].delta.content or "" for c in r.parse() if c.choices)
                return r.headers["x-relaygate-cache"], text

        def anthropic_stream(gw) -> str:
            with anthropic_client(gw, headers=USE).messages.stream(model="claude", max_tokens=20,
                                                                    messages=ASK) as s:
                return s.get_final_message().content[0].text

        assert await asyncio.to_thread(openai_stream, a) == ("miss", "eleven is prime")
        assert await asyncio.to_thread(anthropic_stream, a) == "thirteen"
        for _ in range(100):                                     # the store lands after the stream ended
            cached, text = await asyncio.to_thread(openai_stream, b)
            if cached == "hit":
                break
            await asyncio.sleep(0.05)
        assert (cached, text) == ("hit", "eleven is prime")
        calls = len(fake_anthropic.requests)
        assert await asyncio.to_thread(anthropic_stream, b) == "thirteen"
        assert len(fake_anthropic.requests) == calls == 1


async def test_redis_down_still_serves_every_request(fake_anthropic, fake_openai, fake_gemini, tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"                  # nothing listens there
    fake_openai.always(Behavior(text="2"))
    async with AsyncExitStack() as stack:
        a, b = await start_replicas(stack, replica_config((fake_anthropic, fake_openai, fake_gemini), dead,
                                                          "rgtest:dead:"), tmp_path)
        answers = [await asyncio.to_thread(ask, gw) for gw in (a, b, a, b)]
        assert [r.status_code for r in answers] == [200] * 4
        assert {r.headers["x-relaygate-cache"] for r in answers} == {"miss"}
        assert len(fake_openai.requests) == 4
        rows = await a.ledger_rows()
        assert [r["status"] for r in rows] == [200, 200] and not any(r["cache_hit"] for r in rows)
