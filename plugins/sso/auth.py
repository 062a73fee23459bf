"""Single sign-on tokens as gateway credentials: the ``relaygate_authenticate`` hook.

Runs before the key plugins. A presented value shaped like a JWT is verified against the issuer
its ``iss`` names (plugins/sso/tokens.py); one that verifies is the request's principal; when
none does, the request is refused with the first reason (expired, wrong audience, ...) rather
than left to the key plugins, whose generic 401 would hide it. Values shaped like keys are the
key plugins' alone. The hook stays synchronous (no coroutine per request) unless a JWT is presented.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import aiohttp

from plugins.auth.keys import presented_keys
from plugins.sso.config import JwtConfig
from plugins.sso.jwks import IssuerKeys
from plugins.sso.tokens import TokenRefused, principal_of, unverified_header, unverified_issuer, verify
from proxy import hookimpl
from proxy.hooks import active_when
from proxy.errors import AuthenticationFailed
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import Principal, RequestContext
    from proxy.gateway import Gateway
    from proxy.sections import Spec

#: issuer URL (the tokens' ``iss``) -> its keys, rebuilt on a config load (cached key sets kept)
ISSUERS: StashKey[dict[str, IssuerKeys]] = StashKey("sso.issuers")
#: the HTTP session the key sets are fetched with, from start-up to shutdown
SSO_SESSION: StashKey[aiohttp.ClientSession] = StashKey("sso.session")


def issuer_keys(gateway: Gateway) -> dict[str, IssuerKeys]:
    return gateway.stash.get(ISSUERS) or {}


VERIFIED_CACHE_SIZE = 10_000


async def identify(gateway: Gateway, token: str) -> Principal:
    """The principal of a single sign-on token; :class:`TokenRefused` says why not.

    A token that verified before is answered from its issuer's cache until it expires: an agent
    sends the same token with every request, and a signature check costs about a millisecond.
    """
    issuers = issuer_keys(gateway)
    for keys in issuers.values():                  # one or two issuers: cheaper than decoding the token
        known: Principal | None = keys.verified.get(token)
        if known is not None:
            if known.expires_at is not None and known.expires_at + keys.cfg.clock_skew_seconds > time.time():
                return known
            del keys.verified[token]
    header = unverified_header(token)
    if header is None:
        raise TokenRefused("not a JWT")
    iss = unverified_issuer(token)
    trusted = issuers.get(iss)
    if trusted is None:
        raise TokenRefused(f"tokens of issuer {iss!r} are not accepted here")
    principal = principal_of(await verify(token, header, trusted), trusted.cfg)
    if len(trusted.verified) >= VERIFIED_CACHE_SIZE:
        trusted.verified.clear()
    trusted.verified[token] = principal
    return principal


async def _authenticate(gateway: Gateway, tokens: list[str]) -> Principal | None:
    refusal = ""
    for token in tokens:
        try:
            return await identify(gateway, token)
        except TokenRefused as exc:
            refusal = refusal or str(exc)
    raise AuthenticationFailed(f"single sign-on token refused: {refusal}")


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"auth.jwt": JwtConfig}


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    gateway.stash[SSO_SESSION] = aiohttp.ClientSession()
    _build(gateway)


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    session = gateway.stash.pop(SSO_SESSION, None)
    if session is not None:
        await session.close()


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    if SSO_SESSION in gateway.stash:
        _build(gateway)


def _build(gateway: Gateway) -> None:
    """One IssuerKeys per configured issuer; an unchanged issuer keeps its cached key set."""
    old = issuer_keys(gateway)
    session = gateway.stash[SSO_SESSION]
    fresh: dict[str, IssuerKeys] = {}
    for cfg in gateway.settings.section(JwtConfig).issuers:
        kept = old.get(cfg.issuer)
        fresh[cfg.issuer] = kept if kept is not None and kept.cfg == cfg else IssuerKeys(cfg, session)
    if fresh:
        # joserfc is imported lazily (plugins/sso/tokens.py); with issuers configured, import it now
        # so the first token does not pay ~90 ms of imports on the event loop.
        import joserfc.jwk
        import joserfc.jwt  # noqa: F401
    gateway.stash[ISSUERS] = fresh


def _issuers_configured(gateway: Gateway, endpoint: object) -> bool:
    return bool(issuer_keys(gateway))


@hookimpl(tryfirst=True)
@active_when(_issuers_configured)
def relaygate_authenticate(ctx: RequestContext) -> Awaitable[Principal | None] | None:
    if not ctx.gateway.stash.get(ISSUERS):
        return None
    tokens = [v for v in presented_keys(ctx) if unverified_header(v) is not None]
    if not tokens:
        return None
    return _authenticate(ctx.gateway, tokens)
