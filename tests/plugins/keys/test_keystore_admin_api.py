"""Key lifecycle through the admin API: create (secret once), list, show, revoke, expire."""

from __future__ import annotations

import sqlite3
import time

import pytest
from keys_support import ADMIN_TOKEN, Admin, chat, eventually, keys_config
from plugins.keystore.records import digest
from plugins.keystore.store import keys_path
from support.gateway import TEST_KEY, run_gateway, settings_for


@pytest.fixture
async def gw(fake_openai, tmp_path):
    settings = settings_for(keys_config(fake_openai.base_url), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


async def test_created_key_works_and_its_secret_is_shown_once_and_stored_only_as_hash(gw, fake_openai):
    admin = Admin(gw.url)
    created = await admin.create(name="ci-bot", owner="ci", owner_kind="agent", team="platform",
                                 tags=["ci", "nightly"], endpoints=["chat"])
    secret = created["secret"]
    assert secret.startswith("rg-") and len(secret) >= 3 + 43        # 32 random bytes, url-safe base64
    assert created["id"].startswith("key_") and created["status"] == "active"
    assert (created["owner"], created["owner_kind"], created["team"]) == ("ci", "agent", "platform")
    assert created["tags"] == ["ci", "nightly"] and created["endpoints"] == ["chat"]
    assert created["prefix"] == secret[:8]

    status, body = await chat(gw.url, secret)
    assert status == 200, body
    rows = await gw.ledger_rows()
    assert (rows[-1]["key_id"], rows[-1]["owner"], rows[-1]["team"]) == (created["id"], "ci", "platform")

    # Never again: not in the list, not in show, not in the database.
    status, listing = await admin.call("GET", "/keys")
    assert status == 200 and [k["id"] for k in listing["data"]] == [created["id"]]
    status, shown = await admin.call("GET", f"/keys/{created['id']}")
    assert status == 200 and shown["name"] == "ci-bot"
    for doc in (listing, shown):
        assert secret not in str(doc) and digest(secret) not in str(doc)
        assert "secret" not in str(doc) and "sha256" not in str(doc)
    path = keys_path(gw.gateway.settings)
    with sqlite3.connect(path) as db:
        dump = "\n".join(db.iterdump())
        stored = db.execute("SELECT key_sha256 FROM relaygate_keys").fetchall()
    assert secret not in dump and secret[8:] not in dump
    assert stored == [(digest(secret),)]
    assert TEST_KEY not in dump


async def test_revoked_key_is_refused_with_a_specific_message(gw, fake_openai):
    admin = Admin(gw.url)
    created = await admin.create(name="temp")
    assert (await chat(gw.url, created["secret"]))[0] == 200
    revoked = await admin.revoke(created["id"])
    assert revoked["status"] == "revoked" and revoked["revoked_at"]
    sent = len(fake_openai.requests)
    status, body = await chat(gw.url, created["secret"])
    assert status == 401
    assert "revoked" in body["error"]["message"] and created["id"] in body["error"]["message"]
    assert body["error"]["type"] == "authentication_error"
    assert len(fake_openai.requests) == sent                 # never reached the provider
    # an unknown key still gets the generic message
    status, body = await chat(gw.url, "rg-never-issued")
    assert status == 401 and "revoked" not in body["error"]["message"]


async def test_expired_key_is_refused_and_expire_endpoint_sets_the_time(gw):
    admin = Admin(gw.url)
    # expires a moment after creation
    soon = await admin.create(name="short", expires_at=time.time() + 1.5)
    assert (await chat(gw.url, soon["secret"]))[0] in (200, 401)   # 401 only on a very slow machine

    async def refused():
        result = await chat(gw.url, soon["secret"])
        return result if result[0] != 200 else None

    status, body = await eventually(refused)
    assert status == 401 and "expired" in body["error"]["message"]

    later = await admin.create(name="long", expires_in="30d")
    assert later["expires_at"] is not None
    assert (await chat(gw.url, later["secret"]))[0] == 200
    status, expired = await admin.call("POST", f"/keys/{later['id']}/expire")
    assert status == 200 and expired["status"] == "expired"
    status, body = await chat(gw.url, later["secret"])
    assert status == 401 and "expired" in body["error"]["message"]

    future = "2999-01-01T00:00:00Z"
    status, moved = await admin.call("PATCH", f"/keys/{later['id']}/expire", json={"expires_at": future})
    assert status == 200 and moved["expires_at"] == future and moved["status"] == "active"
    assert (await chat(gw.url, later["secret"]))[0] == 200


async def test_config_keys_keep_working_next_to_store_keys(gw):
    await Admin(gw.url).create(name="stored")
    status, _ = await chat(gw.url, TEST_KEY)
    assert status == 200


async def test_admin_api_rejects_gateway_keys_and_bad_tokens(gw):
    admin = Admin(gw.url)
    created = await admin.create(name="someone")
    for token in (TEST_KEY, created["secret"], "", "wrong", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
        for method, path in (("GET", "/keys"), ("POST", "/keys"), ("GET", "/usage"),
                             ("POST", f"/keys/{created['id']}/revoke")):
            status, body = await admin.call(method, path, token=token, json={"name": "x"})
            assert status == 401, (token, path)
            assert body["error"]["type"] == "authentication_error"
    # the key was not revoked by any of those
    status, shown = await admin.call("GET", f"/keys/{created['id']}")
    assert shown["status"] == "active"
    # the admin token is not a gateway key either
    assert (await chat(gw.url, ADMIN_TOKEN))[0] == 401


async def test_admin_errors_are_json(gw):
    admin = Admin(gw.url)
    status, body = await admin.call("GET", "/keys/key_nope")
    assert status == 404 and "key_nope" in body["error"]["message"]
    status, body = await admin.call("POST", "/keys/key_nope/revoke")
    assert status == 404
    status, body = await admin.call("POST", "/keys", json={"owner": "x"})
    assert status == 400 and "name" in body["error"]["message"]
    status, body = await admin.call("POST", "/keys", json={"name": "x", "owner_kind": "robot"})
    assert status == 400 and "owner_kind" in body["error"]["message"]
    status, body = await admin.call("POST", "/keys", json={"name": "x", "colour": "red"})
    assert status == 400 and "colour" in body["error"]["message"]
    status, body = await admin.call("POST", "/keys", json={"name": "x", "expires_at": "tomorrow"})
    assert status == 400 and "tomorrow" in body["error"]["message"]
    status, body = await admin.call("GET", "/usage", params={"by": "colour"})
    assert status == 400 and "colour" in body["error"]["message"]


async def test_list_filters_by_owner_team_and_status(gw):
    admin = Admin(gw.url)
    a = await admin.create(name="a", owner="ann", team="red")
    b = await admin.create(name="b", owner="bob", team="red")
    await admin.revoke(b["id"])
    _, by_owner = await admin.call("GET", "/keys", params={"owner": "ann"})
    assert [k["id"] for k in by_owner["data"]] == [a["id"]]
    _, by_team = await admin.call("GET", "/keys", params={"team": "red"})
    assert {k["id"] for k in by_team["data"]} == {a["id"], b["id"]}
    _, revoked = await admin.call("GET", "/keys", params={"status": "revoked"})
    assert [k["id"] for k in revoked["data"]] == [b["id"]]


async def test_admin_api_is_404_without_an_admin_token(fake_openai, tmp_path, monkeypatch):
    monkeypatch.delenv("RELAYGATE_ADMIN_TOKEN", raising=False)
    settings = settings_for(keys_config(fake_openai.base_url, admin_token=None), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        for token in (ADMIN_TOKEN, TEST_KEY, ""):
            status, body = await Admin(gw.url).call("GET", "/keys", token=token)
            assert status == 404 and body["error"]["type"] == "not_found_error"


async def test_admin_token_from_the_environment(fake_openai, tmp_path, monkeypatch):
    monkeypatch.setenv("RELAYGATE_ADMIN_TOKEN", "env-admin-token-abcdef")
    settings = settings_for(keys_config(fake_openai.base_url, admin_token=None), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        assert (await Admin(gw.url, "env-admin-token-abcdef").call("GET", "/keys"))[0] == 200
        assert (await Admin(gw.url, ADMIN_TOKEN).call("GET", "/keys"))[0] == 401
