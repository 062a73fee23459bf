"""Redirects are never followed: a provider's 3xx becomes a 502 and the redirect target hears nothing.

Each test runs a second loopback listener as the target a redirect names;
credentials (the provider key, a Vertex token assertion) must never reach it.
"""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from resilience_helpers import AUTH, CHAT
from support.behavior import Behavior
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for


@pytest_asyncio.fixture
async def elsewhere():
    """The redirect target: a listener that records whatever reaches it."""
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


def redirect_to(url: str, status: int) -> Behavior:
    return Behavior(status=status, raw=b"", headers={"Location": url}, times=None)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_becomes_a_502_naming_the_status_and_is_not_followed(fake_openai, elsewhere, tmp_path,
                                                                              status, stream):
    fake_openai.always(redirect_to(elsewhere.base_url + "/chat/completions", status))
    cfg = openai_config(fake_openai.base_url)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s, s.post(gw.url + "/v1/chat/completions", headers=AUTH,
                                                        json={**CHAT, "stream": stream}) as r:
            body = await r.json()
            assert r.status == 502 and r.headers["x-request-id"]
        assert str(status) in body["error"]["message"] and "redirect" in body["error"]["message"]
        assert body["error"]["type"] == "server_error"          # the OpenAI shape
        assert len(fake_openai.requests) == 1                   # a redirect is not retried either
        assert not elsewhere.requests
        rows = await gw.ledger_rows()
        assert [(r["status"], r["error"]) for r in rows] == [(502, "redirect")]


async def test_a_redirect_reaches_anthropic_and_gemini_clients_in_their_shapes(fake_anthropic, elsewhere, tmp_path):
    fake_anthropic.always(redirect_to(elsewhere.root_url + "/v1/messages", 307))
    cfg = {"providers": {"a": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "ak-secret"}},
           "endpoints": {"claude": {"served_models": [{"name": "c", "provider": "a", "model": "claude-x"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s:
            async with s.post(gw.url + "/anthropic/v1/messages", headers={"x-api-key": TEST_KEY}, json={
                    "model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}) as r:
                body = await r.json()
                assert r.status == 502 and body["type"] == "error" and "307" in body["error"]["message"]
            async with s.post(gw.url + "/gemini/v1beta/models/claude:generateContent",
                              headers={"x-goog-api-key": TEST_KEY},
                              json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}) as r:
                body = await r.json()
                assert r.status == 502 and body["error"]["status"] == "UNAVAILABLE"
                assert "307" in body["error"]["message"]
    assert not elsewhere.requests


async def test_a_vertex_token_endpoint_redirect_is_not_followed(fake_gemini, elsewhere, tmp_path):
    """The token request carries a signed assertion: it must not be re-sent where a 307 points."""
    from support.fake_gemini import write_service_account_file

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(elsewhere.root_url + "/token")

    app = web.Application()
    app.router.add_route("*", "/token", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    token_uri = f"http://127.0.0.1:{runner.addresses[0][1]}/token"
    try:
        sa = write_service_account_file(tmp_path / "sa.json", token_uri)
        cfg = {"providers": {"v": {"type": "vertex", "base_url": fake_gemini.base_url, "credentials_file": str(sa)}},
               "endpoints": {"flash": {"served_models": [{"name": "f", "provider": "v", "model": "gemini-2.5-flash"}],
                                       "retry": {"max_attempts": 1}}},
               "keys": [{"name": "k", "key": TEST_KEY}]}
        async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
            async with aiohttp.ClientSession() as s, s.post(
                    gw.url + "/gemini/v1beta/models/flash:generateContent", headers={"x-goog-api-key": TEST_KEY},
                    json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}) as r:
                assert r.status == 502, await r.text()
    finally:
        await runner.cleanup()
    assert not elsewhere.requests and not fake_gemini.requests
