"""Verifying a single sign-on token and turning its claims into a :class:`~proxy.context.Principal`.

A JWT is told apart from a gateway key by its shape: three base64url segments whose first
decodes to a JSON header naming an ``alg`` (gateway keys have no dots). Signature checks are
joserfc's (never ours); this module only decides which issuer and key set to ask, and refuses
early what no key set may accept: ``alg`` outside the issuer's allowed (asymmetric) list,
which is how ``none`` and an HMAC made with the public key are refused.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import orjson

from plugins.sso.config import IssuerConfig
from plugins.sso.jwks import IssuerKeys, KeysUnavailable
from proxy.context import Principal

MAX_TOKEN_CHARS = 16_384


class TokenRefused(Exception):
    """The token is a JWT but not an acceptable one; the message says why (never the token)."""


def _segment(part: str) -> Any:
    return orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def unverified_header(value: str) -> dict[str, Any] | None:
    """The JOSE header when *value* has the shape of a JWT, else None (a gateway key)."""
    if value.count(".") != 2 or len(value) > MAX_TOKEN_CHARS:
        return None
    try:
        header = _segment(value.split(".", 1)[0])
    except (binascii.Error, ValueError):
        return None
    return header if isinstance(header, dict) and "alg" in header else None


def unverified_issuer(value: str) -> str:
    """The ``iss`` claim, read only to pick whose keys verify the token."""
    try:
        claims = _segment(value.split(".")[1])
    except (binascii.Error, ValueError, IndexError):
        raise TokenRefused("the token's claims are not base64url JSON") from None
    iss = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(iss, str) or not iss:
        raise TokenRefused("the token has no 'iss' claim")
    return iss


async def verify(value: str, header: dict[str, Any], keys: IssuerKeys, now: float | None = None) -> dict[str, Any]:
    """The token's claims once its signature, issuer, audience and times check out."""
    # joserfc (and cryptography under it) is imported on the first token, not at start-up:
    # ~90 ms and ~9 MB that a gateway without ``auth.jwt`` issuers never needs.
    from joserfc import jwt
    from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError

    cfg = keys.cfg
    alg = header.get("alg")
    if alg not in cfg.algorithms:
        raise TokenRefused(f"token algorithm {alg!r} is not allowed for issuer {cfg.name!r} "
                           f"(allowed: {', '.join(cfg.algorithms)})")
    kid = header.get("kid")
    try:
        key_set = await keys.key_set(kid if isinstance(kid, str) else None)
    except KeysUnavailable as exc:
        raise TokenRefused(f"the signing keys of issuer {cfg.name!r} are unavailable: {exc}") from None
    if isinstance(kid, str) and _lacks(key_set, kid):
        raise TokenRefused(f"the token's key id {kid!r} is not among issuer {cfg.name!r}'s signing keys")
    try:
        token = jwt.decode(value, key_set, algorithms=[alg])
    except BadSignatureError:
        raise TokenRefused("the token's signature does not verify") from None
    except JoseError as exc:
        raise TokenRefused(f"the token cannot be verified: {exc.description or exc.error}") from None
    claims: dict[str, Any] = dict(token.claims)
    clock = int(now if now is not None else time.time())
    registry = jwt.JWTClaimsRegistry(
        now=clock, leeway=cfg.clock_skew_seconds,
        iss={"essential": True, "value": cfg.issuer},
        aud={"essential": True, "values": cfg.audiences},
        exp={"essential": True}, sub={"essential": True})
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise TokenRefused("the token has expired") from None
    except MissingClaimError as exc:
        raise TokenRefused(f"the token lacks required claim(s): {exc.claim}") from None
    except InvalidClaimError as exc:
        if exc.claim in ("nbf", "iat"):
            raise TokenRefused(f"the token is not valid yet ({exc.claim} is in the future)") from None
        if exc.claim == "aud":
            raise TokenRefused(f"the token's audience is not one of {', '.join(cfg.audiences)}") from None
        if exc.claim == "iss":
            raise TokenRefused(f"the token's issuer is not {cfg.issuer}") from None
        raise TokenRefused(f"the token has an invalid {exc.claim!r} claim") from None
    return claims


def _lacks(key_set: Any, kid: str) -> bool:
    return not any(k.kid == kid for k in key_set.keys)


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (``realm_access.roles``); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.split() if v)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int) and str(v))
    return ()


def principal_of(claims: dict[str, Any], cfg: IssuerConfig) -> Principal:
    """The caller as the gateway sees them: owner, teams, groups, scopes and the endpoints they may call."""
    m = cfg.claims
    owner = next((str(v) for v in (claim(claims, c) for c in m.owner) if isinstance(v, str) and v), "")
    teams = _strings(claim(claims, m.team))
    groups = _strings(claim(claims, m.groups))
    scopes = frozenset(s for c in m.scopes for s in _strings(claim(claims, c)))
    subject = str(claims["sub"])
    matched = [r for r in cfg.access if (r.group is not None and r.group in groups)
               or (r.scope is not None and r.scope in scopes)]
    if matched:
        endpoints: frozenset[str] | None = frozenset(e for r in matched for e in r.endpoints)
    else:
        endpoints = frozenset(cfg.endpoints) if cfg.endpoints is not None else None
    exp = claims.get("exp")
    return Principal(key_id=f"sso:{cfg.name}:{subject}", owner=owner or subject,
                     team=teams[0] if teams else "", endpoints=endpoints, key_name=owner or subject,
                     issuer=cfg.name, subject=subject, teams=teams, groups=groups, scopes=scopes,
                     expires_at=float(exp) if isinstance(exp, int | float) else None)
