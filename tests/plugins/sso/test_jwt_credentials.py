"""Single sign-on tokens as gateway credentials, against a fake OIDC issuer over loopback HTTP.

Every refusal is a 401 in the client's own error shape naming why; the ledger attributes a
signed-in caller's usage to their identity; keys keep working beside tokens.
"""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest
from sso_support import bearer, sso_config
from support.gateway import TEST_KEY, run_gateway, settings_for

from plugins.sso.auth import ISSUERS

CHAT = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture
async def gw(fake_openai, fake_issuer, tmp_path):
    cfg = sso_config(fake_openai.base_url, fake_issuer,
                     access=[{"group": "ml-eng", "endpoints": ["chat"]}], endpoints=[])
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as running:
        yield running


async def chat(gw, token: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + "/v1/chat/completions", data=CHAT,
                                                    headers=bearer(token)) as r:
        return r.status, await r.json()


async def test_a_valid_token_calls_and_is_attributed_to_the_person(gw, fake_issuer):
    status, body = await chat(gw, fake_issuer.mint())
    assert status == 200, body
    await gw.flush_ledger()
    (row,) = await gw.ledger_rows()
    assert (row["key_id"], row["owner"], row["team"]) == ("sso:corp:u-1001", "dev@example.com", "ml")


async def test_the_same_token_works_in_x_api_key_too(gw, fake_issuer):
    token = fake_issuer.mint()
    async with aiohttp.ClientSession() as s, s.post(gw.url + "/anthropic/v1/messages", headers={
            "x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json"},
            data=orjson.dumps({"model": "chat", "max_tokens": 5,
                               "messages": [{"role": "user", "content": "hi"}]})) as r:
        assert r.status != 401, await r.text()


@pytest.mark.parametrize(("make", "why"), [
    (lambda i: i.mint(lifetime=-3600), "the token has expired"),
    (lambda i: i.mint(nbf=int(time.time()) + 3600), "not valid yet"),
    (lambda i: i.mint(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200), "not valid yet"),
    (lambda i: i.mint(aud="someone-else"), "audience is not one of relaygate"),
    (lambda i: i.unsigned(), "algorithm 'none' is not allowed"),
    (lambda i: i.hmac_with_public_key(), "algorithm 'HS256' is not allowed"),
    (lambda i: i.mint(kid="k-unknown"), "key id 'k-unknown' is not among"),
    (lambda i: i.mint(iss="http://127.0.0.1:9/other"), "are not accepted here"),
    (lambda i: i.mint(sub=None), "lacks required claim(s): sub"),
])
async def test_bad_tokens_are_refused_with_the_reason(gw, fake_issuer, make, why):
    token = make(fake_issuer)
    status, body = await chat(gw, token)
    assert status == 401
    assert why in body["error"]["message"]
    assert token not in orjson.dumps(body).decode()          # never echoed


async def test_a_token_signed_by_a_key_the_issuer_never_published_is_refused(gw, fake_issuer):
    stranger = fake_issuer._new_key()
    status, body = await chat(gw, fake_issuer.mint(key=stranger, kid=fake_issuer.keys[0].kid))
    assert status == 401 and "signature does not verify" in body["error"]["message"]


async def test_key_rotation_is_picked_up_on_the_unknown_kid(gw, fake_issuer):
    old = fake_issuer.mint()
    assert (await chat(gw, old))[0] == 200
    assert fake_issuer.jwks_fetches == 1
    fake_issuer.rotate()                                        # the old key is withdrawn
    assert (await chat(gw, old))[0] == 200                      # not known yet: the verified token is cached
    assert (await chat(gw, fake_issuer.mint()))[0] == 200      # the new kid: one refetch
    assert fake_issuer.jwks_fetches == 2
    assert (await chat(gw, fake_issuer.mint()))[0] == 200      # cached now
    assert fake_issuer.jwks_fetches == 2
    status, body = await chat(gw, old)                          # the refetch forgot what the old key proved
    assert status == 401 and "is not among issuer 'corp'" in body["error"]["message"]


async def test_unknown_kids_refetch_at_a_bounded_rate(fake_openai, fake_issuer, tmp_path):
    cfg = sso_config(fake_openai.base_url, fake_issuer, jwks_min_refresh_seconds=300)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        assert (await chat(gw, fake_issuer.mint()))[0] == 200
        for i in range(20):
            status, body = await chat(gw, fake_issuer.mint(kid=f"k-made-up-{i}"))
            assert status == 401
        assert fake_issuer.jwks_fetches == 1                    # no refetch inside the bound
        fake_issuer.rotate()
        status, _ = await chat(gw, fake_issuer.mint())
        assert status == 401                                    # the rotation waits for the bound too
        gw.gateway.stash[ISSUERS][fake_issuer.url]._fetched_at -= 301
        assert (await chat(gw, fake_issuer.mint()))[0] == 200
        assert fake_issuer.jwks_fetches == 2


async def test_groups_decide_the_endpoints(gw, fake_issuer):
    assert (await chat(gw, fake_issuer.mint(groups=["ml-eng"])))[0] == 200
    status, body = await chat(gw, fake_issuer.mint(groups=["sales"]))   # no rule: issuer default, none
    assert status == 403 and "may not call endpoint 'chat'" in body["error"]["message"]


async def test_keys_still_work_beside_tokens(gw):
    assert (await chat(gw, TEST_KEY))[0] == 200


async def test_issuer_discovery_down_is_a_401_naming_it(fake_openai, tmp_path):
    from support.fake_oidc import FakeIssuer
    issuer = await FakeIssuer().start()
    token = issuer.mint()
    cfg = sso_config(fake_openai.base_url, issuer)
    await issuer.stop()
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        status, body = await chat(gw, token)
        assert status == 401 and "signing keys of issuer 'corp' are unavailable" in body["error"]["message"]


def test_config_refuses_none_and_hmac():
    from pydantic import ValidationError

    from plugins.sso.config import IssuerConfig
    for alg in ("none", "HS256"):
        with pytest.raises(ValidationError, match="only asymmetric"):
            IssuerConfig(name="x", issuer="http://127.0.0.1/", audiences=["a"], algorithms=[alg])
