"""What may cross the gateway: hop-by-hop headers, client credentials, the upstream URL, client IPs.

Providers build upstream headers from scratch and the URL from config; these
checks are the last line that holds even if a provider plugin gets it wrong:

- hop-by-hop headers (RFC 9110 7.6.1) and the headers ``Connection`` names are
  never forwarded, in either direction;
- a credential the client presented (``Authorization``, ``x-api-key``,
  ``x-goog-api-key``, ``api-key``, ``?key=``) never leaves upstream;
- the upstream URL must lie below the provider's configured base URL, without
  dot segments, encoded slashes or dots, backslashes or fragments that a model
  name or path parameter could smuggle in (the host is fixed by the base URL,
  so an ``@`` in the path is harmless: Vertex model versions use it);
- ``X-Forwarded-For`` is believed only from ``server.trusted_proxies``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from aiohttp import web

    from proxy.providers import Provider, UpstreamRequest

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
_HOP_OR_CONNECTION = HOP_BY_HOP | {"connection"}
_CLIENT_KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization")
_BAD_PATH = re.compile(r"(^|/)\.{1,2}(/|$)|%2e|%2f|%5c|\\|#|\s", re.IGNORECASE)


def strip_hop_by_hop(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of *headers* without hop-by-hop headers and those listed in ``Connection``."""
    if _HOP_OR_CONNECTION.isdisjoint(map(str.lower, headers)):
        return dict(headers)           # the common case: nothing to strip, one pass in C
    named = {t.strip().lower() for k, v in headers.items() if k.lower() == "connection" for t in v.split(",")}
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP and k.lower() not in named}


def client_secrets(request: web.Request) -> list[str]:
    """The credential values the client sent, in any of the supported styles."""
    found = []
    for name in _CLIENT_KEY_HEADERS:
        value = request.headers.get(name)
        if value:
            scheme, _, rest = value.partition(" ")
            found.append(rest.strip() if rest and scheme.lower() in ("bearer", "basic") else value.strip())
    key = request.query.get("key")
    if key:
        found.append(key)
    return [s for s in found if len(s) >= 6]


def scrub_client_credentials(ureq: UpstreamRequest, request: web.Request) -> None:
    """Drop any upstream header carrying a client credential; refuse a URL that does."""
    secrets = client_secrets(request)
    if not secrets:
        return
    # One scan over all values first: a credential in none of them (the usual case) needs no per-header look.
    joined = "\n".join(ureq.headers.values())
    if any(s in joined for s in secrets):
        for name in [k for k, v in ureq.headers.items() if any(s in v for s in secrets)]:
            del ureq.headers[name]
    if any(s in ureq.url for s in secrets):
        raise RequestRejected("the request would forward a client credential upstream")


def check_upstream_url(provider: Provider, url: str) -> None:
    """The URL must be the provider's base URL plus a clean path (raise RequestRejected)."""
    base = provider.base_url
    if not url.startswith(base) or (len(url) > len(base) and url[len(base)] not in "/?"):
        raise RequestRejected(f"provider {provider.name!r}: the upstream URL left its configured base URL")
    rest = url[len(base):]
    if _BAD_PATH.search(rest.partition("?")[0]):
        raise RequestRejected("the model or a path parameter contains characters that would change the "
                              "upstream path (dot segments, encoded dots or slashes, backslashes or '#')", param="model")


@lru_cache(maxsize=64)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(ip: str, cidrs: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in _networks(cidrs))


def client_ip(request: web.Request, trusted_proxies: Iterable[str]) -> str:
    """The socket peer, or, if the peer is a trusted proxy, the last untrusted X-Forwarded-For hop."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    ip = str(peer[0]) if peer else ""
    cidrs = tuple(trusted_proxies)
    if not cidrs or not _trusted(ip, cidrs):
        return ip
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        if hop and not _trusted(hop, cidrs):
            return hop
    return hops[0] if hops and hops[0] else ip
