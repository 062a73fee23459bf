"""Vertex AI: OAuth tokens minted from a service account, shared, refreshed; the Vertex URL shape."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import aiohttp
import pytest
from google import genai
from google.genai import types
from support.behavior import Behavior, Usage
from support.fake_gemini import write_service_account_file
from support.gateway import TEST_KEY, run_gateway, settings_for

from plugins.gemini.google_tokens import AccessTokens
from proxy.errors import UpstreamUnavailable

CONTENTS = [{"role": "user", "parts": [{"text": "Hello!"}]}]
VERTEX_PATH = "/v1/projects/fake-project/locations/us-central1/publishers/google/models/gemini-2.5-flash"


def vertex_config(base_url: str, credentials_file: str, **provider: object) -> dict:
    return {
        "providers": {"vertex": {"type": "vertex", "base_url": base_url, "credentials_file": credentials_file,
                                 "location": "us-central1", **provider}},
        "endpoints": {"flash": {"task": "chat", "served_models": [
            {"name": "flash", "provider": "vertex", "model": "gemini-2.5-flash"}]}},
        "keys": [{"name": "alice-key", "key": TEST_KEY, "owner": "alice"}],
    }


async def generate(gw) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + "/gemini/v1beta/models/flash:generateContent",
                                                    json={"contents": CONTENTS},
                                                    headers={"x-goog-api-key": TEST_KEY}) as r:
        return r.status, await r.json(content_type=None)


@pytest.fixture
def fake_vertex(fake_gemini):
    fake_gemini.require_minted_token = True        # model calls need a live token we minted
    return fake_gemini


async def test_concurrent_requests_share_one_minted_token(fake_vertex, gcp_service_account_file, tmp_path):
    settings = settings_for(vertex_config(fake_vertex.base_url, str(gcp_service_account_file)),
                            ledger_path=str(tmp_path / "l.db"))
    fake_vertex.always(Behavior(usage=Usage(input_tokens=3, output_tokens=2)))
    async with run_gateway(settings) as gw:
        results = await asyncio.gather(*(generate(gw) for _ in range(6)))
        assert [status for status, _ in results] == [200] * 6
        assert fake_vertex.tokens_minted == 1
        assert {r.bearer for r in fake_vertex.requests} == {"ya29.fake-token-1"}
        assert {r.path for r in fake_vertex.requests} == {VERTEX_PATH + ":generateContent"}
        claims = fake_vertex.token_requests[0]["claims"]
        assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
        rows = await gw.ledger_rows()
        assert len(rows) == 6 and all(r["provider"] == "vertex" and r["input_tokens"] == 3 for r in rows)


async def test_expired_token_is_replaced(fake_vertex, gcp_service_account_file, tmp_path):
    fake_vertex.token_expires_in = 1
    settings = settings_for(vertex_config(fake_vertex.base_url, str(gcp_service_account_file)),
                            ledger_path=str(tmp_path / "l.db"))
    fake_vertex.always(Behavior())
    async with run_gateway(settings) as gw:
        assert (await generate(gw))[0] == 200
        assert fake_vertex.tokens_minted == 1
        await asyncio.sleep(1.2)                      # the token has expired (the fake refuses it now)
        assert (await generate(gw))[0] == 200
        assert fake_vertex.tokens_minted == 2
        assert fake_vertex.last.bearer == "ya29.fake-token-2"


async def test_streams_and_sdk_through_vertex(fake_vertex, gcp_service_account_file, tmp_path):
    settings = settings_for(vertex_config(fake_vertex.base_url, str(gcp_service_account_file)),
                            ledger_path=str(tmp_path / "l.db"))
    fake_vertex.script(Behavior(chunks=3, reasoning="r", usage=Usage(input_tokens=9, output_tokens=6,
                                                                        reasoning_tokens=2, cached_tokens=1)))
    async with run_gateway(settings) as gw:
        client = genai.Client(api_key="x", http_options=types.HttpOptions(
            base_url=gw.url + "/gemini", headers={"Authorization": f"Bearer {TEST_KEY}"}))
        chunks = [c async for c in await client.aio.models.generate_content_stream(model="flash", contents="hi")]
        assert chunks and fake_vertex.last.path == VERTEX_PATH + ":streamGenerateContent"
        assert fake_vertex.last.query == {"alt": "sse"}
        rows = await gw.ledger_rows()
        assert (rows[0]["input_tokens"], rows[0]["output_tokens"], rows[0]["reasoning_tokens"],
                rows[0]["cached_input_tokens"]) == (9, 6, 2, 1)


async def test_token_uri_override_and_mint_failure(fake_vertex, tmp_path):
    # The file points somewhere unusable; the config's token_uri wins.
    sa = write_service_account_file(tmp_path / "sa.json", "http://127.0.0.1:9/token")
    settings = settings_for(vertex_config(fake_vertex.base_url, str(sa), token_uri=fake_vertex.token_uri),
                            ledger_path=str(tmp_path / "l.db"))
    fake_vertex.always(Behavior())
    async with run_gateway(settings) as gw:
        assert (await generate(gw))[0] == 200
        assert fake_vertex.tokens_minted == 1
    fake_vertex.token_status = 400
    async with run_gateway(settings) as gw:
        status, body = await generate(gw)
        assert status == 502
        assert body["error"]["status"] == "UNAVAILABLE" and "access token" in body["error"]["message"]
        assert "private_key" not in json.dumps(body)
    assert len(fake_vertex.requests) == 1              # no model call without a token


async def test_project_is_required(tmp_path):
    from proxy.app import make_app

    sa = tmp_path / "sa.json"
    sa.write_text(json.dumps({"type": "service_account"}))
    settings = settings_for(vertex_config("http://127.0.0.1:9", str(sa)), ledger_path=str(tmp_path / "l.db"))
    with pytest.raises(ValueError, match="providers.vertex.project"):
        make_app(settings)


# ------------------------------------------------------------------ AccessTokens on its own


class FakeCredentials:
    """Stands in for google-auth credentials: each refresh mints the next token."""

    def __init__(self, clock: list[float], lifetime: float = 3600, fail: bool = False) -> None:
        self.clock, self.lifetime, self.fail = clock, lifetime, fail
        self.token: str | None = None
        self.expiry: dt.datetime | None = None
        self.minted = 0

    def refresh(self, _request: object) -> None:
        if self.fail:
            raise RuntimeError("token endpoint said no")
        self.minted += 1
        self.token = f"tok-{self.minted}"
        self.expiry = dt.datetime.fromtimestamp(self.clock[0] + self.lifetime, dt.UTC).replace(tzinfo=None)


def tokens_for(creds: FakeCredentials, clock: list[float]) -> AccessTokens:
    return AccessTokens(lambda: creds, name="v", clock=lambda: clock[0])


async def test_refresh_starts_in_the_background_before_expiry():
    clock = [1000.0]
    creds = FakeCredentials(clock)
    tokens = tokens_for(creds, clock)
    assert await tokens.token() == "tok-1"
    clock[0] += 3600 - 200                        # inside the last 5 minutes, still valid
    assert await tokens.token() == "tok-1"        # answered at once with the old token ...
    assert await tokens.token() == "tok-1"        # ... and a second caller does not start another refresh
    for _ in range(100):
        if creds.minted == 2:
            break
        await asyncio.sleep(0.05)
    assert creds.minted == 2
    assert await tokens.token() == "tok-2"
    assert creds.minted == 2                      # one refresh for both early callers


async def test_concurrent_waiters_share_one_refresh_and_failures_raise():
    clock = [1000.0]
    creds = FakeCredentials(clock)
    tokens = tokens_for(creds, clock)
    assert await asyncio.gather(*(tokens.token() for _ in range(10))) == ["tok-1"] * 10
    assert creds.minted == 1
    clock[0] += 4000                              # expired: everybody waits, on the same refresh
    assert set(await asyncio.gather(*(tokens.token() for _ in range(10)))) == {"tok-2"}
    assert creds.minted == 2
    clock[0] += 4000
    creds.fail = True
    with pytest.raises(UpstreamUnavailable, match="RuntimeError"):
        await tokens.token()
