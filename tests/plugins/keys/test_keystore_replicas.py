"""Two gateway replicas sharing the PostgreSQL key store: a change on one reaches the other in seconds."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import pytest
from keys_support import PG_DSN, Admin, chat, drop_schema, eventually, keys_config, postgres_schema
from plugins.keystore.records import digest
from support.gateway import run_gateway, settings_for


@pytest.fixture
async def replicas(fake_openai, tmp_path):
    schema = await postgres_schema()
    storage = {"backend": "postgres", "postgres_dsn": PG_DSN, "postgres_schema": schema, "refresh_seconds": 0.2}
    try:
        async with AsyncExitStack() as stack:
            gws = []
            for i in (1, 2):
                settings = settings_for(keys_config(fake_openai.base_url, keys_storage=storage),
                                        ledger_path=str(tmp_path / f"ledger-{i}.db"))
                gws.append(await stack.enter_async_context(run_gateway(settings)))
            yield gws[0], gws[1], schema
    finally:
        await drop_schema(schema)


async def test_key_created_on_one_replica_works_on_the_other_and_revocation_follows(replicas):
    one, two, schema = replicas
    created = await Admin(one.url).create(name="ops-common", owner="ops", team="infra")
    secret = created["secret"]
    assert (await chat(one.url, secret))[0] == 200             # at once on the replica that created it

    async def works_on_two():
        return (await chat(two.url, secret))[0] == 200
    await eventually(works_on_two)

    await Admin(one.url).revoke(created["id"])

    async def refused_on_two():
        status, body = await chat(two.url, secret)
        return status == 401 and "revoked" in body["error"]["message"]
    await eventually(refused_on_two)
    assert (await chat(one.url, secret))[0] == 401

    # the second replica's admin API sees the same store
    status, shown = await Admin(two.url).call("GET", f"/keys/{created['id']}")
    assert status == 200 and shown["status"] == "revoked"

    con = await asyncpg.connect(PG_DSN)
    try:
        rows = await con.fetch(f'SELECT * FROM "{schema}".relaygate_keys')
    finally:
        await con.close()
    assert len(rows) == 1 and rows[0]["key_sha256"] == digest(secret)
    assert secret not in str([dict(r) for r in rows])


async def test_expiry_set_on_one_replica_takes_effect_on_the_other(replicas):
    one, two, _ = replicas
    created = await Admin(two.url).create(name="exp", endpoints=["chat"])

    async def works_on_one():
        return (await chat(one.url, created["secret"]))[0] == 200
    await eventually(works_on_one)
    status, _ = await Admin(two.url).call("POST", f"/keys/{created['id']}/expire")
    assert status == 200

    async def refused_on_one():
        status, body = await chat(one.url, created["secret"])
        return status == 401 and "expired" in body["error"]["message"]
    await eventually(refused_on_one)
    # scope holds on the replica that only learned of the key by polling
    status, body = await chat(one.url, (await Admin(one.url).create(name="s", endpoints=["chat"]))["secret"],
                              model="other-ep")
    assert status == 403
