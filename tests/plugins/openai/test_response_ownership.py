"""Response ids belong to the key that created them, on native and translated Responses routes.

Every gateway key reaches OpenAI with the same provider credential, so without the gateway's
record a second key could continue (and read) the first key's stored response by its id.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import asyncpg
import openai
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_openai

OTHER_KEY = "rg-other-key-0123456789"
PG_DSN = os.environ.get("RELAYGATE_TEST_POSTGRES_DSN", "postgresql://root@127.0.0.1:5432/test")


def config(fake_openai, fake_anthropic, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"openai": {"type": "openai", "base_url": fake_openai.base_url, "api_key": "sk-upstream"},
                      "ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk-ant"}},
        "endpoints": {"native": {"retry": {"max_attempts": 1},
                                 "served_models": [{"name": "g", "provider": "openai", "model": "gpt-5.5"}]},
                      "translated": {"served_models": [{"name": "c", "provider": "ant", "model": "claude-x"}]}},
        "keys": [{"name": "alice", "key": TEST_KEY}, {"name": "mallory", "key": OTHER_KEY}],
        **extra,
    }


@pytest.fixture
async def gw(fake_openai, fake_anthropic, tmp_path):
    settings = settings_for(config(fake_openai, fake_anthropic), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as running:
        yield running


def client(gw, key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/openai/v1", api_key=key, max_retries=0)


async def create(gw, key: str = TEST_KEY, **kw: Any) -> Any:
    return await asyncio.to_thread(client(gw, key).responses.create, input="hi", **kw)


async def streamed_id(gw, model: str, key: str = TEST_KEY) -> str:
    def run() -> str:
        with client(gw, key).responses.stream(model=model, input="hi") as s:
            return s.get_final_response().id
    return await asyncio.to_thread(run)


async def refused(gw, key: str, model: str, response_id: str) -> dict[str, Any]:
    with pytest.raises(openai.NotFoundError) as info:
        await create(gw, key, model=model, previous_response_id=response_id)
    body = info.value.response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["param"] == "previous_response_id"
    assert body["error"]["message"] == f"Previous response with id '{response_id}' not found."
    return body


@pytest.mark.parametrize("stream", [False, True])
async def test_another_key_cannot_continue_a_native_response(gw, fake_openai, stream):
    first = await streamed_id(gw, "native") if stream else (await create(gw, model="native")).id
    sent = len(fake_openai.requests)
    unknown = await refused(gw, OTHER_KEY, "native", first)
    assert len(fake_openai.requests) == sent                     # never forwarded
    # the same answer as for an id nobody ever issued: nothing tells them apart
    never = await refused(gw, OTHER_KEY, "native", "resp_" + "0" * 24)
    assert unknown["error"]["message"].replace(first, "X") == never["error"]["message"].replace("resp_" + "0" * 24, "X")
    # the owner continues, on the native route
    await create(gw, model="native", previous_response_id=first)
    assert fake_openai.last.body["previous_response_id"] == first


async def test_another_key_cannot_continue_a_translated_response(gw, fake_anthropic):
    fake_anthropic.always(Behavior(text="ok"))
    first = (await create(gw, model="translated")).id
    streamed = await streamed_id(gw, "translated")
    sent = len(fake_anthropic.requests)
    for rid in (first, streamed):
        await refused(gw, OTHER_KEY, "translated", rid)
        await refused(gw, OTHER_KEY, "native", rid)               # nor by switching to another route
    assert len(fake_anthropic.requests) == sent
    await create(gw, model="translated", previous_response_id=streamed)
    assert [m["role"] for m in fake_anthropic.last.body["messages"]] == ["user", "assistant", "user"]


async def test_ids_the_gateway_never_issued_are_refused_unless_allowed(fake_openai, fake_anthropic, tmp_path):
    foreign = "resp_made_elsewhere_0123"
    async with run_gateway(settings_for(config(fake_openai, fake_anthropic),
                                        ledger_path=str(tmp_path / "a.db"))) as gw:
        await refused(gw, TEST_KEY, "native", foreign)
        unstored = (await create(gw, model="native", store=False)).id   # store: false is never recorded
        await refused(gw, TEST_KEY, "native", unstored)
    allow = config(fake_openai, fake_anthropic, responses={"foreign_ids": "allow"})
    async with run_gateway(settings_for(allow, ledger_path=str(tmp_path / "b.db"))) as gw:
        await create(gw, model="native", previous_response_id=foreign)
        assert fake_openai.last.body["previous_response_id"] == foreign
        owned = (await create(gw, model="native")).id
        await refused(gw, OTHER_KEY, "native", owned)            # a known owner still wins


async def test_retrieve_cancel_and_delete_by_id_are_not_served(gw, fake_openai):
    rid = (await create(gw, model="native")).id
    sent = len(fake_openai.requests)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {OTHER_KEY}"}) as s:
        for method, path in (("GET", f"/responses/{rid}"), ("DELETE", f"/responses/{rid}"),
                             ("POST", f"/responses/{rid}/cancel"), ("GET", f"/responses/{rid}/input_items")):
            async with s.request(method, gw.url + "/openai/v1" + path) as r:
                body = await r.json()
                assert r.status == 404 and body["error"]["message"].startswith("no such API route"), body
    assert len(fake_openai.requests) == sent


async def test_replicas_on_postgres_share_the_owners(fake_openai, fake_anthropic, tmp_path):
    schema = "rg_owners_" + uuid.uuid4().hex[:10]
    try:
        con = await asyncpg.connect(PG_DSN, timeout=3)
        await con.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    cfg = config(fake_openai, fake_anthropic)
    cfg["storage"] = {"responses": {"backend": "postgres", "postgres_dsn": PG_DSN, "postgres_schema": schema}}
    try:
        async with AsyncExitStack() as stack:
            one, two = [await stack.enter_async_context(run_gateway(settings_for(
                cfg, ledger_path=str(tmp_path / f"l{i}.db")))) for i in (1, 2)]
            native = await streamed_id(one, "native")
            fake_anthropic.always(Behavior(text="ok"))
            translated = (await create(one, model="translated")).id
            for rid, model in ((native, "native"), (translated, "translated")):
                await refused(two, OTHER_KEY, model, rid)
                await create(two, model=model, previous_response_id=rid)      # the owner, on the other replica
    finally:
        con = await asyncpg.connect(PG_DSN, timeout=3)
        try:
            await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await con.close()
