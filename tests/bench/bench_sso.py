#!/usr/bin/env python3
"""Cost of single sign-on tokens per request, in process (no network: the key set is cached).

Prints microseconds per verification (signature, claims, principal) of an RS256 (2048-bit) and an
ES256 token through ``plugins.sso.auth.identify``, the first time and from the verified-token
cache, and what the auth hook costs a request that carries a gateway key when issuers are
configured (the shape check that tells keys from JWTs).
Numbers, not assertions.

    .venv/bin/python tests/bench/bench_sso.py [-n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from plugins.sso.auth import ISSUERS, identify, relaygate_authenticate
from plugins.sso.config import IssuerConfig
from plugins.sso.jwks import IssuerKeys
from proxy.stash import Stash

ISS = "https://idp.example.test"


def token(key, alg: str) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": "relaygate", "sub": "u-1", "email": "dev@example.com", "iat": now,
              "exp": now + 3600, "groups": ["ml-eng", "platform"], "team": "ml", "scope": "chat embed"}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


async def main(n: int) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec"})
    cfg = IssuerConfig(name="corp", issuer=ISS, audiences=["relaygate"], algorithms=["RS256", "ES256"])
    keys = IssuerKeys(cfg, session=None)  # type: ignore[arg-type]
    keys._keys, keys._fetched_at = KeySet([rsa, ec]), time.monotonic()
    gateway = SimpleNamespace(stash=Stash({ISSUERS: {ISS: keys}}))
    for name, value in (("RS256", token(rsa, "RS256")), ("ES256", token(ec, "ES256"))):
        await identify(gateway, value)                               # warm up
        t = time.perf_counter()
        for _ in range(n):
            keys.verified.clear()                                    # a token never seen before
            await identify(gateway, value)
        print(f"{name} token, first use (signature, claims, principal): {(time.perf_counter() - t) / n * 1e6:8.1f} us")
        t = time.perf_counter()
        for _ in range(n * 10):
            await identify(gateway, value)
        per = (time.perf_counter() - t) / n / 10 * 1e6
        print(f"{name} token, seen before (cached until it expires):   {per:8.1f} us")
    request = SimpleNamespace(headers={"Authorization": "Bearer rg-0123456789abcdef0123456789abcdef"}, query={})
    ctx = SimpleNamespace(gateway=gateway, request=request)
    t = time.perf_counter()
    for _ in range(n * 10):
        assert relaygate_authenticate(ctx) is None
    print(f"auth hook on a gateway key (issuers configured): {(time.perf_counter() - t) / (n * 10) * 1e6:8.2f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5000)
    asyncio.run(main(parser.parse_args().n))
