"""An issuer's signing keys: discovered, fetched, cached, and refetched at a bounded rate.

The key set is fetched on first use (a gateway starts even while its identity provider is
down), again every ``jwks_cache_seconds``, and early when a token names a ``kid`` the cached
set lacks (the provider rotated its keys) -- but at most once per ``jwks_min_refresh_seconds``,
so a stream of tokens with made-up kids cannot make the gateway hammer the provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from plugins.sso.config import IssuerConfig

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

log = logging.getLogger("relaygate.sso")
FETCH_TIMEOUT_S = 10.0
MAX_DOCUMENT_BYTES = 1 << 20


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched (and none are cached)."""


async def get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S),
                           allow_redirects=False) as r:
        if r.status != 200:
            raise KeysUnavailable(f"GET {url} answered {r.status}")
        raw = await r.content.read(MAX_DOCUMENT_BYTES + 1)
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise KeysUnavailable(f"GET {url}: the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except ValueError as exc:
        raise KeysUnavailable(f"GET {url}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise KeysUnavailable(f"GET {url}: not a JSON object")
    return doc


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class IssuerKeys:
    """One issuer's key set and its endpoints (from discovery)."""

    def __init__(self, cfg: IssuerConfig, session: aiohttp.ClientSession, clock: Any = time.monotonic) -> None:
        self.cfg = cfg
        self._session = session
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = -1e18
        self._lock = asyncio.Lock()
        self.metadata: dict[str, Any] = {}
        self.fetches = 0                      # key set fetches, for tests and the console
        #: tokens already verified with the current key set -> what they proved (see plugins/sso/auth.py);
        #: emptied whenever the key set is fetched again, so a key the issuer withdrew stops working
        self.verified: dict[str, Any] = {}

    async def discover(self) -> dict[str, Any]:
        if not self.metadata:
            doc = await get_json(self._session, discovery_url(self.cfg.issuer))
            if doc.get("issuer", "").rstrip("/") != self.cfg.issuer.rstrip("/"):
                raise KeysUnavailable(f"discovery of {self.cfg.issuer} names another issuer: {doc.get('issuer')!r}")
            self.metadata = doc
        return self.metadata

    async def endpoint(self, name: str, configured: object | None) -> str:
        """An endpoint URL: the configured one, else discovery's *name* (``token_endpoint``, ...)."""
        if configured is not None:
            return str(configured)
        url = (await self.discover()).get(name)
        if not isinstance(url, str) or not url:
            raise KeysUnavailable(f"issuer {self.cfg.issuer} does not publish {name}")
        return url

    async def _fetch(self) -> None:
        url = await self.endpoint("jwks_uri", self.cfg.jwks_url)
        doc = await get_json(self._session, url)
        from joserfc.errors import JoseError       # imported on first use, see plugins/sso/tokens.py
        from joserfc.jwk import KeySet

        try:
            keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise KeysUnavailable(f"the key set at {url} is not valid: {exc}") from None
        self._keys, self._fetched_at = keys, self._clock()
        self.verified.clear()
        self.fetches += 1
        log.info("sso: fetched %d key(s) of issuer %s", len(keys.keys), self.cfg.name)

    async def key_set(self, kid: str | None) -> KeySet:
        """The cached key set, refetched when stale or when it lacks *kid* (rate-bounded)."""
        now = self._clock()
        stale = now - self._fetched_at >= self.cfg.jwks_cache_seconds
        unknown = self._keys is not None and kid is not None and not _has(self._keys, kid)
        may_refresh = now - self._fetched_at >= self.cfg.jwks_min_refresh_seconds
        if self._keys is None or stale or (unknown and may_refresh):
            async with self._lock:
                if self._fetched_at < now or self._keys is None:     # nobody refetched while we waited
                    try:
                        await self._fetch()
                    except (KeysUnavailable, aiohttp.ClientError, TimeoutError) as exc:
                        if self._keys is None:
                            raise KeysUnavailable(str(exc)) from None
                        log.warning("sso: refetching the keys of %s failed, keeping the cached ones: %s",
                                    self.cfg.name, exc)
                        self._fetched_at = now    # the bound applies to failures too
        assert self._keys is not None
        return self._keys


def _has(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)
