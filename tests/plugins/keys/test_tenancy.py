"""Tenancy in every answer: a key learns nothing about endpoints it may not call; the admin API
stores nothing it has not fully checked, and no stored row can make a listing fail."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import aiohttp
import pytest
import yaml
from keys_support import Admin, keys_config
from plugins.keystore.auth import KEY_CACHE
from proxy.cli import main
from support.gateway import TEST_KEY, run_gateway, settings_for

ANTHROPIC_BODY = {"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def gw(fake_openai, tmp_path):
    async with run_gateway(settings_for(keys_config(fake_openai.base_url), ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


async def call(gw, method: str, path: str, secret: str, body: Any = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.request(method, gw.url + path, json=body,
                                                       headers={"Authorization": f"Bearer {secret}"}) as r:
        return r.status, await r.text()


async def test_unknown_model_answers_name_only_the_endpoints_the_key_may_call(gw):
    scoped = (await Admin(gw.url).create(name="scoped", endpoints=["chat"]))["secret"]
    chat = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
    for method, path, body in (("POST", "/v1/chat/completions", chat),
                               ("POST", "/openai/v1/chat/completions", chat),
                               ("POST", "/anthropic/v1/messages", ANTHROPIC_BODY),
                               ("POST", "/gemini/v1beta/models/nope:generateContent",
                                {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
                               ("GET", "/anthropic/v1/models/nope", None),
                               ("GET", "/gemini/v1beta/models/nope", None),
                               ("POST", "/serving-endpoints/nope/invocations", chat)):
        status, text = await call(gw, method, path, scoped, body)
        assert status == 404, (path, text)
        assert "other-ep" not in text and "openai/*" not in text, (path, text)
        if method == "POST":
            assert "endpoints this key may call: chat" in text, (path, text)
    status, text = await call(gw, "POST", "/v1/chat/completions", TEST_KEY, chat)     # unscoped: sees all
    assert status == 404 and "chat, other-ep, openai/*" in text


async def test_a_scoped_key_learns_nothing_about_another_endpoints_task(gw):
    scoped = (await Admin(gw.url).create(name="scoped", endpoints=["chat"]))["secret"]
    # other-ep exists; a body of the wrong shape must not make the answer describe it
    status, text = await call(gw, "POST", "/serving-endpoints/other-ep/invocations", scoped, {"bogus": 1})
    assert status == 403 and "task" not in text and "this key may not call endpoint 'other-ep'" in text


@pytest.mark.parametrize("body", [
    {"name": "x", "expires_in": "99999999999d"},
    {"name": "x", "expires_in": "0d"},
    {"name": "x", "expires_in": 30},
    {"name": "x", "expires_at": 1e300},
    {"name": "x", "expires_at": True},
    {"name": "x", "expires_in": "3000000d"},                  # past 9999-12-31
    {"name": "x", "expires_at": 253_402_300_800},
    {"name": "x", "expires_at": "1970-01-02T00:00:00Z"},
    {"name": "x", "expires_at": 10 ** 400},
    {"name": "has space"},
    {"name": "tab\there"},
    {"name": "ü-nicode"},
    {"name": "x" * 65},
    {"name": "key_0123456789abcdef"},
    {"name": ""},
    {"name": "x", "owner": "o" * 129},
    {"name": "x", "team": "a\nb"},
    {"name": "x", "tags": ["t"] * 33},
    {"name": "x", "tags": ["bad tag"]},
    {"name": "x", "endpoints": ["e" * 257]},
    {"name": "x", "endpoints": ["chat", ""]},
    {"name": "x", "owner_kind": "robot"},
])
async def test_admin_refuses_bad_input_with_400_and_stores_nothing(gw, body):
    admin = Admin(gw.url)
    status, answer = await admin.call("POST", "/keys", json=body)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    status, listed = await admin.call("GET", "/keys")
    assert status == 200 and listed["data"] == []


async def test_expire_refuses_an_expiry_no_date_can_show(gw):
    admin = Admin(gw.url)
    key = await admin.create(name="ok", expires_in="30d")
    for body in ({"expires_at": 1e300}, {"expires_in": "99999999999d"}):
        status, answer = await admin.call("POST", f"/keys/{key['id']}/expire", json=body)
        assert status == 400, answer
    status, shown = await admin.call("GET", f"/keys/{key['id']}")
    assert status == 200 and shown["expires_at"] == key["expires_at"]
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + "/admin/v1/keys", data=b'{"name": "' + b"x" * 70_000 + b'"}',
            headers={"Authorization": f"Bearer {admin.token}"}) as r:
        assert r.status == 413


async def test_damaged_rows_never_make_a_listing_fail(gw, tmp_path, capsys):
    admin = Admin(gw.url)
    good = await admin.create(name="good")
    damaged = await admin.create(name="damaged", endpoints=["chat"])
    revoked = await admin.create(name="revoked")
    path = tmp_path / "l.keys.db"
    with sqlite3.connect(path) as db:     # what an old version, a bug or a hand edit could leave behind
        db.execute("UPDATE relaygate_keys SET expires_at = 1e300, tags = 'not json', endpoints = '{bad', "
                   "created_at = 'yesterday' WHERE id = ?", (damaged["id"],))
        db.execute("UPDATE relaygate_keys SET revoked_at = 'garbled' WHERE id = ?", (revoked["id"],))
        db.execute("UPDATE relaygate_key_changes SET version = version + 1")
    await gw.gateway.stash[KEY_CACHE].refresh(force=True)
    status, listed = await admin.call("GET", "/keys")
    assert status == 200
    by_name = {k["name"]: k for k in listed["data"]}
    assert set(by_name) == {"good", "damaged", "revoked"}
    assert by_name["damaged"]["expires_at"] == "invalid: 1e+300" and by_name["damaged"]["endpoints"] == []
    assert by_name["revoked"]["status"] == "revoked"                   # damaged revocation: still refused
    assert (await call(gw, "POST", "/v1/chat/completions", damaged["secret"],
                       {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))[0] == 403
    assert (await call(gw, "POST", "/v1/chat/completions", revoked["secret"],
                       {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))[0] == 401
    assert (await call(gw, "POST", "/v1/chat/completions", good["secret"],
                       {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))[0] == 200
    cfg = keys_config("http://127.0.0.1:9")
    cfg["storage"]["ledger"] = {"path": str(tmp_path / "l.db")}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    argv = ["keys", "list", "--config", str(tmp_path / "c.yaml"), "--format", "json"]
    assert await asyncio.to_thread(main, argv) == 0
    assert {k["name"] for k in json.loads(capsys.readouterr().out)} == {"good", "damaged", "revoked"}
