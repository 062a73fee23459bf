"""Pure parts: claims -> principal (nested claims, scopes, access rules), ``scope: group`` plans,
and the console's signed session cookie."""

from __future__ import annotations

import time

from plugins.admin.actors import Actor
from plugins.console import session as sessions
from plugins.limits.config import LimitsConfig
from plugins.limits.rules import Rules
from plugins.sso.config import IssuerConfig
from plugins.sso.tokens import principal_of, unverified_header

CFG = IssuerConfig.model_validate({
    "name": "kc", "issuer": "https://idp.test/realms/corp", "audiences": ["relaygate"],
    "claims": {"owner": ["preferred_username", "sub"], "team": "org.teams", "groups": "realm_access.roles"},
    "endpoints": ["chat"],
    "access": [{"group": "ml-eng", "endpoints": ["chat", "embed"]}, {"scope": "batch", "endpoints": ["batch"]}]})


def test_claims_map_to_a_principal():
    p = principal_of({"sub": "42", "preferred_username": "ana", "exp": 2_000_000_000,
                      "org": {"teams": ["ml", "infra"]}, "realm_access": {"roles": ["ml-eng", "staff"]},
                      "scope": "openid batch"}, CFG)
    assert (p.key_id, p.owner, p.team, p.teams) == ("sso:kc:42", "ana", "ml", ("ml", "infra"))
    assert p.groups == ("ml-eng", "staff") and p.scopes == {"openid", "batch"}
    assert p.endpoints == {"chat", "embed", "batch"} and p.signed_in and p.expires_at == 2_000_000_000


def test_no_matching_rule_falls_back_to_the_issuers_endpoints():
    p = principal_of({"sub": "7"}, CFG)
    assert p.owner == "7" and p.groups == () and p.endpoints == {"chat"}


def test_every_group_is_its_own_subject():
    rules = Rules(LimitsConfig.model_validate({
        "rules": [{"scope": "group", "match": "ml-*", "tokens_per_minute": 200_000},
                  {"scope": "group", "match": "ml-eng", "tokens_per_minute": 500_000}],
        "budgets": [{"scope": "group", "match": "*", "usd_per_month": 100}]}))
    p = principal_of({"sub": "1", "realm_access": {"roles": ["ml-eng", "ml-research", "sales"]}}, CFG)
    plan = rules.plan(p, "chat")
    assert [(t.id, t.capacity) for t in plan.tokens] == [
        ("group:ml-eng:tokens", 500_000), ("group:ml-research:tokens", 200_000)]
    assert [(b.scope, b.name) for b in plan.budgets] == [("group", "ml-eng"), ("group", "ml-research"),
                                                          ("group", "sales")]
    assert "group 'ml-eng'" in plan.tokens[0].describe()


def test_keys_are_not_taken_for_tokens():
    assert unverified_header("rg-0123456789abcdef") is None
    assert unverified_header("a.b.c") is None                 # dots, but no JOSE header
    assert unverified_header("eyJhbGciOiJSUzI1NiJ9.e30.sig") == {"alg": "RS256"}


def test_session_cookies_are_signed_and_expire():
    key = sessions.signing_key(None, "admin-token-1")
    cookie, s = sessions.issue(Actor("admin-token", "admin_token", "admin"), key, 5)
    assert sessions.read(cookie, key) == s
    assert sessions.read(cookie, sessions.signing_key(None, "another-token")) is None
    body, sig = cookie.split(".")
    assert sessions.read(body.replace(body[3], "A" if body[3] != "A" else "B") + "." + sig, key) is None
    assert sessions.csrf_ok(s, s.csrf) and not sessions.csrf_ok(s, "") and not sessions.csrf_ok(s, "x")
    old = sessions.Session(s.actor, s.csrf, time.time() - 1)
    assert old.expires < time.time()
