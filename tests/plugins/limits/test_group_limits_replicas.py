"""``scope: group``: a signed-in group's token limit is shared by every member, across two replicas
sharing one Redis, and a member of two groups is held by both."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
from limits_support import REDIS_URL, require_redis, unique_prefix
from support.behavior import Behavior, Usage
from support.fake_oidc import AUDIENCE, CLIENT_ID
from support.gateway import openai_config, run_gateway, settings_for

from plugins.limits.redis_backend import RedisBackend



async def test_a_group_token_limit_holds_across_two_replicas(fake_openai, fake_issuer, tmp_path):
    await require_redis()
    prefix = unique_prefix()
    fake_openai.always(Behavior(latency=0.2, usage=Usage(input_tokens=15, output_tokens=5)))
    cfg: dict[str, Any] = openai_config(fake_openai.base_url)
    cfg["auth"] = {"jwt": {"issuers": [{"name": "corp", "issuer": fake_issuer.url, "audiences": [AUDIENCE],
                                        "client_id": CLIENT_ID}]}}
    cfg["limits"] = {"backend": "redis", "redis_url": REDIS_URL, "redis_prefix": prefix,
                     "rules": [{"scope": "group", "match": "ml-eng", "tokens_per_minute": 2000},
                               {"scope": "group", "match": "interns", "requests_per_minute": 1}]}
    body = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 300})
    cost = len(body) // 4 + 300                         # reserved per request: prompt estimate + max_tokens
    # two different people of the same group, each on "their" replica
    alice = fake_issuer.mint(sub="alice", email="alice@example.com", groups=["ml-eng"])
    bob = fake_issuer.mint(sub="bob", email="bob@example.com", groups=["ml-eng", "other"])
    a = run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "a.db")))
    b = run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "b.db")))
    try:
        async with a as gw_a, b as gw_b, aiohttp.ClientSession() as s:
            async def one(i: int) -> tuple[int, str]:
                url, token = (gw_a.url, alice) if i % 2 else (gw_b.url, bob)
                async with s.post(url + "/v1/chat/completions", data=body,
                                  headers={"Authorization": f"Bearer {token}",
                                           "Content-Type": "application/json"}) as r:
                    return r.status, (await r.json())["error"]["message"] if r.status != 200 else ""
            results = await asyncio.gather(*(one(i) for i in range(30)))
            statuses = [st for st, _ in results]
            passed = 2000 // cost
            assert statuses.count(200) == passed and statuses.count(429) == 30 - passed, statuses
            assert all("group 'ml-eng'" in msg for st, msg in results if st == 429)
            # a member of ml-eng and interns: the interns' 1 request/minute holds them too
            carol = fake_issuer.mint(sub="carol", groups=["interns"])
            ok = {"Authorization": f"Bearer {carol}", "Content-Type": "application/json"}
            async with s.post(gw_a.url + "/v1/chat/completions", data=body, headers=ok) as r:
                assert r.status == 200
            async with s.post(gw_b.url + "/v1/chat/completions", data=body, headers=ok) as r:
                assert r.status == 429 and "group 'interns'" in (await r.json())["error"]["message"]
    finally:
        cleaner = RedisBackend(REDIS_URL, prefix)
        await cleaner.clear()
        await cleaner.close()
