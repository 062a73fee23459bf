"""The audit log in PostgreSQL (beside the keys, in the ledger's schema), shared by two replicas."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import aiohttp
from keys_support import ADMIN_TOKEN, PG_DSN, drop_schema, keys_config, postgres_schema
from support.gateway import run_gateway, settings_for


async def test_two_replicas_write_one_audit_log_in_postgres(fake_openai, tmp_path):
    schema = await postgres_schema()
    cfg = keys_config(fake_openai.base_url)
    cfg["storage"]["ledger"] = {"backend": "postgres", "postgres_dsn": PG_DSN, "postgres_schema": schema,
                                "flush_interval_seconds": 0.05}
    a = run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "unused.db")))
    b = run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "unused.db")))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    since = datetime.fromtimestamp(time.time() - 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        async with a as gw_a, b as gw_b, aiohttp.ClientSession() as s:
            async with s.post(gw_a.url + "/admin/v1/keys", headers=admin, json={"name": "pg-key"}) as r:
                key_id = (await r.json())["id"]
            async with s.post(gw_b.url + f"/admin/v1/keys/{key_id}/revoke", headers=admin) as r:
                assert r.status == 200
            async with s.get(gw_a.url + "/admin/v1/audit?since=" + since, headers=admin) as r:
                doc = await r.json()
                assert r.status == 200, doc
                data = doc["data"]
        assert [(e["action"], e["target"], e["actor"]) for e in data] == [
            ("key.revoke", key_id, "admin-token"), ("key.create", key_id, "admin-token")]
    finally:
        await drop_schema(schema)
