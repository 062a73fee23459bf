"""The console over plain HTTP: security headers on every page, CSRF and Origin checks on every
POST, links under a reverse proxy's prefix, roles, and 404 when nothing guards it."""

from __future__ import annotations

import re

import aiohttp
import pytest
from console_support import ADMIN, console_config
from support.gateway import openai_config, run_gateway, settings_for

from plugins.console.routes import CSP


@pytest.fixture
async def gw(fake_openai, fake_issuer, tmp_path):
    settings = settings_for(console_config(fake_openai.base_url, fake_issuer.url), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as running:
        yield running


async def signed_in(s: aiohttp.ClientSession, url: str) -> str:
    async with s.post(url + "/console/login", data={"token": ADMIN}, allow_redirects=False) as r:
        assert r.status == 303
    async with s.get(url + "/console/keys") as r:
        return re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)


async def test_every_page_is_strictly_locked_down(gw):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        await signed_in(s, gw.url)
        for path in ("", "keys", "budgets", "requests", "health", "audit", "login"):
            async with s.get(gw.url + "/console/" + path) as r:
                assert r.status == 200, path
                assert r.headers["Content-Security-Policy"] == CSP
                assert "script-src" not in CSP and "'unsafe-inline'" not in CSP
                assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
                assert "<script" not in (await r.text())


async def test_posts_without_the_csrf_token_or_from_elsewhere_are_refused(gw):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        csrf = await signed_in(s, gw.url)
        for data, headers in (({"name": "k1"}, {}), ({"name": "k1", "csrf": "nope"}, {}),
                              ({"name": "k1", "csrf": csrf}, {"Origin": "http://evil.example"})):
            async with s.post(gw.url + "/console/keys", data=data, headers=headers) as r:
                assert r.status == 403 and "CSRF token or origin" in await r.text()
        async with s.post(gw.url + "/console/keys", data={"name": "k1", "csrf": csrf}) as r:
            assert r.status == 201 and 'id="new-secret"' in await r.text()
    async with aiohttp.ClientSession() as s, s.post(gw.url + "/admin/v1/keys", headers={
            "Authorization": f"Bearer {ADMIN}"}) as r:
        pass
    async with aiohttp.ClientSession() as s, s.get(gw.url + "/admin/v1/audit", headers={
            "Authorization": f"Bearer {ADMIN}"}) as r:
        actions = [e["action"] for e in (await r.json())["data"]]
    assert actions == ["key.create", "console.login"]


async def test_links_follow_the_reverse_proxys_prefix(gw):
    headers = {"X-Forwarded-Prefix": "/gw"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.get(gw.url + "/console/", headers=headers, allow_redirects=False) as r:
            assert r.headers["Location"] == "/gw/console/login"
        async with s.get(gw.url + "/console/login", headers=headers) as r:
            text = await r.text()
        assert 'href="/gw/console/static/console.css"' in text and 'action="/gw/console/login"' in text
        async with s.post(gw.url + "/console/login", data={"token": ADMIN}, headers=headers,
                          allow_redirects=False) as r:
            assert r.headers["Location"] == "/gw/console/"
            assert r.cookies["relaygate_console"]["path"] == "/gw/console/"
            assert r.cookies["relaygate_console"]["httponly"]
        async with s.get(gw.url + "/console/", headers={"X-Forwarded-Prefix": "/x\"><b"}, allow_redirects=False) as r:
            assert r.headers["Location"] == "/console/login"         # a prefix that is not a path is ignored


async def test_a_wrong_token_or_a_tampered_cookie_gets_nowhere(gw):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.post(gw.url + "/console/login", data={"token": "guess"}, allow_redirects=False) as r:
            assert r.status == 401
        s.cookie_jar.update_cookies({"relaygate_console": "eyJuIjoiYWRtaW4tdG9rZW4ifQ.forged"})
        async with s.get(gw.url + "/console/keys", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].endswith("/console/login")


async def test_no_admin_token_and_no_sso_roles_means_no_console(fake_openai, tmp_path, monkeypatch):
    monkeypatch.delenv("RELAYGATE_ADMIN_TOKEN", raising=False)
    settings = settings_for(openai_config(fake_openai.base_url), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as s:
        async with s.get(gw.url + "/console/login") as r:
            assert r.status == 404
