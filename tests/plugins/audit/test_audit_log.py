"""The audit log: key create/revoke/expire and config reloads recorded with who did them and when,
listed and exported (JSON, JSON lines, CSV) by the admin API; signed-in admins and viewers."""

from __future__ import annotations

import csv
import io
import time

import aiohttp
import orjson
import yaml
from support.fake_oidc import AUDIENCE, CLIENT_ID
from support.gateway import openai_config, run_gateway

from proxy.config import load_settings

ADMIN = "rg-admin-token-for-audit-tests-0123"
A = {"Authorization": f"Bearer {ADMIN}"}


def config(upstream: str, issuer_url: str, ledger: str) -> dict:
    cfg = openai_config(upstream)
    cfg["admin"] = {"token": ADMIN, "sso_admin_groups": ["platform"], "sso_viewer_groups": ["finance"]}
    cfg["auth"] = {"jwt": {"issuers": [{"name": "corp", "issuer": issuer_url, "audiences": [AUDIENCE],
                                        "client_id": CLIENT_ID}]}}
    cfg["storage"] = {"ledger": {"path": ledger, "flush_interval_seconds": 0.05}}
    return cfg


async def test_admin_actions_are_recorded_and_exported(fake_openai, fake_issuer, tmp_path):
    path = tmp_path / "relaygate.yaml"
    cfg = config(fake_openai.base_url, fake_issuer.url, str(tmp_path / "l.db"))
    path.write_text(yaml.safe_dump(cfg))
    settings = load_settings(str(path))
    platform = {"Authorization": "Bearer " + fake_issuer.mint(sub="u-7", email="ops@example.com",
                                                               groups=["platform"])}
    finance = {"Authorization": "Bearer " + fake_issuer.mint(sub="u-8", groups=["finance"])}
    nobody = {"Authorization": "Bearer " + fake_issuer.mint(sub="u-9", groups=["ml-eng"])}
    started = time.time()
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as s:
        async with s.post(gw.url + "/admin/v1/keys", headers=A, json={"name": "ci", "owner": "ci-bot"}) as r:
            assert r.status == 201
            key_id = (await r.json())["id"]
        async with s.post(gw.url + "/admin/v1/keys", headers=platform, json={"name": "ops-key"}) as r:
            assert r.status == 201
        async with s.post(gw.url + "/admin/v1/keys", headers=finance, json={"name": "nope"}) as r:
            assert r.status == 403 and "viewer role" in (await r.json())["error"]["message"]
        async with s.get(gw.url + "/admin/v1/keys", headers=finance) as r:
            assert r.status == 200                                  # viewers may look
        async with s.get(gw.url + "/admin/v1/keys", headers=nobody) as r:
            assert r.status == 401                                  # no role at all
        async with s.post(gw.url + f"/admin/v1/keys/{key_id}/revoke", headers=platform) as r:
            assert r.status == 200
        # a budget change: the file changes, an admin reloads it through the API
        cfg["limits"] = {"budgets": [{"scope": "team", "match": "ml", "usd_per_day": 5}]}
        path.write_text(yaml.safe_dump(cfg))
        async with s.post(gw.url + "/admin/v1/config/reload", headers=A) as r:
            assert r.status == 200, await r.text()

        async with s.get(gw.url + "/admin/v1/audit", headers=finance) as r:
            data = (await r.json())["data"]
        assert [(e["action"], e["actor"]) for e in data] == [
            ("config.reload", "admin-token"),
            ("key.revoke", "sso:corp:u-7 (ops@example.com)"),
            ("key.create", "sso:corp:u-7 (ops@example.com)"),
            ("key.create", "admin-token")]
        assert data[0]["detail"] == {"changed_sections": ["limits"]}
        assert data[1]["target"] == key_id and data[1]["actor_kind"] == "sso"
        assert all(started - 1 <= e["ts"] <= time.time() for e in data)
        assert "secret" not in orjson.dumps(data).decode()         # the secret is never recorded

        async with s.get(gw.url + "/admin/v1/audit?format=jsonl&action=key.create", headers=A) as r:
            lines = (await r.text()).splitlines()
            assert r.content_type == "application/x-ndjson"
        assert [orjson.loads(x)["action"] for x in lines] == ["key.create", "key.create"]
        async with s.get(gw.url + "/admin/v1/audit?format=csv", headers=A) as r:
            rows = list(csv.DictReader(io.StringIO(await r.text())))
        assert rows[-1]["action"] == "key.create" and rows[-1]["time"].endswith("Z")
        async with s.get(gw.url + "/admin/v1/audit?format=xml", headers=A) as r:
            assert r.status == 400 and "'format' must be one of" in (await r.json())["error"]["message"]


def test_a_reload_names_the_sections_that_changed_even_when_only_a_secret_did():
    from types import SimpleNamespace

    from plugins.audit.log import _digests, changed_sections
    from proxy.config import parse_settings

    def digests(key: str, budget: float) -> dict[str, str]:
        doc = {"keys": [{"name": "k", "key": key}], "limits": {"budgets": [{"scope": "team", "usd_per_day": budget}]}}
        return _digests(SimpleNamespace(settings=parse_settings(yaml.safe_dump(doc), "t", {})))

    base = digests("rg-aaaaaaaaaaaaaaaaaaaa", 5)
    assert changed_sections(base, digests("rg-aaaaaaaaaaaaaaaaaaaa", 5)) == []
    assert changed_sections(base, digests("rg-bbbbbbbbbbbbbbbbbbbb", 5)) == ["keys"]
    assert changed_sections(base, digests("rg-aaaaaaaaaaaaaaaaaaaa", 6)) == ["limits"]
