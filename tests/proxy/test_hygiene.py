"""Upstream hygiene: hop-by-hop headers, client credentials, an upstream URL no client can steer."""

from __future__ import annotations

import base64

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import make_mocked_request
from resilience_helpers import CHAT, post_chat
from support.behavior import Behavior
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from proxy.hygiene import client_ip, strip_hop_by_hop

HOP = {"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1", "Keep-Alive": "timeout=5",
       "TE": "trailers", "Trailer": "X-T", "Upgrade": "h2c", "Proxy-Authorization": "Basic eA==",
       "Proxy-Connection": "keep-alive"}


@pytest_asyncio.fixture
async def attacker():
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def gw(fake_openai, attacker, tmp_path):
    cfg = openai_config(fake_openai.base_url)
    cfg["providers"]["azure"] = {"type": "azure_openai", "base_url": fake_openai.root_url, "api_key": "az-key"}
    cfg["endpoints"]["azure/*"] = {"served_models": [{"name": "az", "provider": "azure", "model": "*"}],
                                   "retry": {"max_attempts": 1}}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as running:
        yield running


def test_strip_hop_by_hop_removes_the_standard_set_and_those_named_in_connection():
    kept = strip_hop_by_hop({**HOP, "Content-Type": "application/json", "anthropic-beta": "x"})
    assert kept == {"Content-Type": "application/json", "anthropic-beta": "x"}


async def test_hop_by_hop_headers_are_stripped_both_ways(gw, fake_openai):
    fake_openai.script(Behavior(headers={"X-Up-Hop": "1", "Connection": "X-Up-Hop", "Upgrade": "h2c",
                                         "Keep-Alive": "timeout=1", "Trailer": "X-T"}))
    status, headers, _ = await post_chat(gw.url, headers={k: v for k, v in HOP.items() if k != "Connection"})
    assert status == 200
    sent = fake_openai.last.headers
    for name in ("x-secret-hop", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection"):
        assert name not in sent, name
    for name in ("X-Up-Hop", "Upgrade", "Trailer"):
        assert name not in headers, name


@pytest.mark.parametrize("style", ["bearer", "x-api-key", "x-goog-api-key", "basic", "query"])
async def test_the_clients_key_never_reaches_the_provider(gw, fake_openai, style):
    headers, params = {}, {}
    if style == "bearer":
        headers["Authorization"] = f"Bearer {TEST_KEY}"
    elif style == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"token:{TEST_KEY}".encode()).decode()
    elif style == "query":
        params["key"] = TEST_KEY
    else:
        headers[style] = TEST_KEY
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.url + "/v1/chat/completions", json=CHAT, headers=headers, params=params) as r:
            assert r.status == 200, await r.text()
    rec = fake_openai.last
    assert rec.bearer == "sk-upstream-secret"
    assert TEST_KEY not in str(dict(rec.headers)) and TEST_KEY not in str(rec.query)
    assert TEST_KEY not in rec.raw_body.decode()


STEERING_HEADERS = {"Host": "127.0.0.1:{port}", "X-Forwarded-Host": "127.0.0.1:{port}",
                    "X-Original-URL": "http://127.0.0.1:{port}/v1/chat/completions",
                    "X-Rewrite-URL": "http://127.0.0.1:{port}/v1/chat/completions",
                    "Forwarded": "host=127.0.0.1:{port};proto=http", "X-Forwarded-Proto": "https",
                    "X-Forwarded-Prefix": "/evil", "X-Forwarded-Port": "{port}"}


async def test_no_header_can_steer_the_upstream_url(gw, fake_openai, attacker):
    headers = {k: v.format(port=attacker.port) for k, v in STEERING_HEADERS.items()}
    status, _, _ = await post_chat(gw.url, headers=headers)
    assert status == 200
    assert fake_openai.last.path == "/v1/chat/completions"
    assert not attacker.requests


async def test_no_body_field_can_steer_the_upstream_url(gw, fake_openai, attacker):
    evil = attacker.base_url
    body = {**CHAT, "base_url": evil, "api_base": evil, "url": evil, "endpoint": evil, "baseURL": evil}
    status, _, _ = await post_chat(gw.url, body)
    assert status in (200, 400)
    for model in (f"{evil}/chat", "http://evil.example/", "../chat", "chat/../../x"):
        status, _, _ = await post_chat(gw.url, {**CHAT, "model": model})
        assert status in (400, 404), model
    assert not attacker.requests
    assert all(p == "/v1/chat/completions" for p in fake_openai.paths)


@pytest.mark.parametrize("model", ["azure/../../v1/chat", "azure/x/..", "azure/%2e%2e/x", "azure/a%2fb",
                                   "azure/x\\..\\y", "azure/x#frag"])
async def test_a_model_in_the_upstream_path_cannot_escape_it(gw, fake_openai, attacker, model):
    status, _, body = await post_chat(gw.url, {**CHAT, "model": model})
    assert status == 400 and b"upstream path" in body, body
    assert not fake_openai.requests and not attacker.requests


async def test_a_clean_model_in_the_upstream_path_goes_where_configured(gw, fake_openai):
    fake_openai.script(Behavior(status=404))           # the fake has no Azure routes; only the path matters
    await post_chat(gw.url, {**CHAT, "model": "azure/gpt-4o@2024"})
    assert fake_openai.last.path == "/openai/deployments/gpt-4o@2024/chat/completions"
    assert fake_openai.last.headers["api-key"] == "az-key"


async def test_routing_uses_the_raw_path_not_rewrite_headers(gw, fake_openai):
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.url + "/nowhere", json=CHAT, headers={
                "Authorization": f"Bearer {TEST_KEY}", "X-Original-URL": "/v1/chat/completions",
                "X-Rewrite-URL": "/v1/chat/completions"}) as r:
            assert r.status == 404
    assert not fake_openai.requests


def _request_from(peer: str, xff: str | None) -> object:
    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (peer, 1234) if name == "peername" else default

        def is_closing(self) -> bool:
            return False

    headers = {"X-Forwarded-For": xff} if xff else {}
    return make_mocked_request("GET", "/", headers=headers, transport=Transport())


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy():
    req = _request_from("10.0.0.5", "203.0.113.9")
    assert client_ip(req, []) == "10.0.0.5"                       # default: the socket peer
    assert client_ip(req, ["192.168.0.0/16"]) == "10.0.0.5"       # peer not trusted
    assert client_ip(req, ["10.0.0.0/8"]) == "203.0.113.9"
    spoofed = _request_from("10.0.0.5", "6.6.6.6, 203.0.113.9, 10.0.0.7")
    assert client_ip(spoofed, ["10.0.0.0/8"]) == "203.0.113.9"    # the last untrusted hop, not the first
