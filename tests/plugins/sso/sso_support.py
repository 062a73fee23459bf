"""A gateway config trusting the fake issuer (tests/support/fake_oidc.py)."""

from __future__ import annotations

from typing import Any

from support.fake_oidc import AUDIENCE, CLIENT_ID, FakeIssuer
from support.gateway import openai_config


def sso_config(upstream_url: str, issuer: FakeIssuer, **issuer_fields: Any) -> dict[str, Any]:
    cfg = openai_config(upstream_url)
    cfg["endpoints"]["embed"] = {"task": "embeddings", "served_models": [
        {"name": "emb", "provider": "openai", "model": "text-embedding-3-small"}]}
    entry = {"name": "corp", "issuer": issuer.url, "audiences": [AUDIENCE], "client_id": CLIENT_ID,
             "jwks_min_refresh_seconds": 0, **issuer_fields}
    cfg["auth"] = {"jwt": {"issuers": [entry]}}
    return cfg


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
