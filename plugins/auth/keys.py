"""Gateway keys from the configuration, accepted in every header style SDKs use.

Order of preference: ``Authorization`` (Bearer, or Basic with user ``token``),
then ``x-api-key``, ``x-goog-api-key`` and ``?key=``. Clients often send a
dummy in one of them (``api_key="unused"``), so the first *valid* one wins.
Keys are held only as SHA-256 digests and compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING

from proxy import hookimpl
from proxy.context import Principal
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

#: request-scoped (``request[...]``): the presented keys' digests, hashed once for every plugin that looks
_DIGESTS = "relaygate.presented_digests"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def presented_keys(ctx: RequestContext) -> list[str]:
    """Every key the request carries, in order of preference."""
    headers = ctx.request.headers
    found: list[str] = []
    auth = headers.get("Authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and value:
            found.append(value.strip())
        elif scheme == "basic" and value:
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if user == "token" and password:
                found.append(password)
    for name in ("x-api-key", "x-goog-api-key"):
        value = headers.get(name, "")
        if value:
            found.append(value.strip())
    key = ctx.request.query.get("key") if ctx.request.query_string else None    # no query: no parse
    if key:
        found.append(key)
    return found


def presented_digests(ctx: RequestContext) -> list[str]:
    """SHA-256 digests of :func:`presented_keys`, in the same order, computed once per request."""
    request = ctx.request
    found: list[str] | None = request.get(_DIGESTS)
    if found is None:
        found = request[_DIGESTS] = [digest(s) for s in presented_keys(ctx)]
    return found


class KeyTable:
    """Principals by key digest.

    Lookup hashes the presented key first, so the dict comparison works on
    SHA-256 digests: its timing says nothing about any stored secret, which is
    what a constant-time comparison is for, at O(1) for any number of keys.
    """

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._by_digest = entries

    def lookup(self, secret: str) -> Principal | None:
        return self._by_digest.get(digest(secret))

    def lookup_digest(self, key_digest: str) -> Principal | None:
        return self._by_digest.get(key_digest)

    def __len__(self) -> int:
        return len(self._by_digest)


#: the config's keys, rebuilt on every config load
KEY_TABLE: StashKey[KeyTable] = StashKey("auth.key_table")


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    entries: dict[str, Principal] = {}
    for k in gateway.settings.keys:
        if k.disabled:              # kill switch; plugins/agents refuses it with a clear message
            continue
        d = k.key_sha256.lower() if k.key_sha256 else digest(k.key.get_secret_value())  # type: ignore[union-attr]
        entries[d] = Principal(key_id=k.name, owner=k.owner or k.name, team=k.team,
                               endpoints=frozenset(k.endpoints) if k.endpoints is not None else None,
                               tags=tuple(k.tags), key_name=k.name)
    gateway.stash[KEY_TABLE] = KeyTable(entries)


@hookimpl(trylast=True)
def relaygate_authenticate(ctx: RequestContext) -> Principal | None:
    table = ctx.gateway.stash[KEY_TABLE]
    for key_digest in presented_digests(ctx):
        principal = table.lookup_digest(key_digest)
        if principal is not None:
            return principal
    return None
