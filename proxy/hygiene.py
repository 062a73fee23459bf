"""What may cross the gateway: hop-by-hop headers, client credentials, the upstream URL, client IPs.

Providers build upstream headers from scratch and the URL from config; these
checks are the last line that holds even if a provider plugin gets it wrong:

- hop-by-hop headers (RFC 9110 7.6.1) and the headers ``Connection`` names are
  never forwarded, in either direction;
- a credential the client presented (``Authorization``, ``x-api-key``,
  ``x-goog-api-key``, ``api-key``, ``?key=``) never leaves upstream;
- a model id that goes into a URL path (Gemini, Vertex, Azure deployments) must
  match :data:`URL_MODEL_ID` and is percent-encoded as one segment, so ``?``,
  ``#``, ``/``, ``..``, ``%``, whitespace and control characters never reach a URL;
- the upstream URL must lie below the provider's configured base URL, without
  dot segments, encoded slashes or dots, backslashes, fragments, whitespace or
  control characters, and carry only the query parameters its provider declares
  (the host is fixed by the base URL, so an ``@`` in the path is harmless: Vertex
  model versions use it);
- ``X-Forwarded-For`` is believed only from ``server.trusted_proxies``;
- headers plugins add to a provider request (``relaygate_attempt_started``) never
  replace one the provider set, nor add credentials, cookies, host or framing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

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
_BAD_PATH = re.compile(r"(^|/)\.{1,2}(/|$)|%2e|%2f|%5c", re.IGNORECASE)
#: anything but printable ASCII, a fragment or a backslash, anywhere after the base URL
_BAD_CHARS = re.compile(r"[^\x21-\x7e]|[#\\]")

#: a provider model id that may stand in a URL path segment: letters, digits, '.', '_', '-' and '@'
#: (Vertex versions), starting with a letter or digit, at most 128 characters, never '..'
URL_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


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
    key = request.query.get("key") if request.query_string else None
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


#: headers a plugin may never add to a provider request: credentials, cookies, routing and framing
_NOT_ADDABLE = HOP_BY_HOP | frozenset(_CLIENT_KEY_HEADERS) | {
    "cookie", "host", "content-type", "content-length", "content-encoding", "expect"}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def add_headers(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """Add *extra* to a provider request's *headers* (in place), except any the request already has
    (case-insensitively: the provider's credentials and versions win), any of :data:`_NOT_ADDABLE`,
    and any malformed name or value (no CR/LF injection)."""
    have = {k.lower() for k in headers}
    for name, value in extra.items():
        low = name.lower()
        if low in have or low in _NOT_ADDABLE or not _HEADER_NAME.fullmatch(name) \
                or not isinstance(value, str) or _BAD_VALUE.search(value):
            continue
        headers[name] = value
        have.add(low)


_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_model_id(provider: Provider, model: str) -> None:
    """Refuse (400 naming ``model``) a model id its provider would put into a URL path unless it
    matches the provider's grammar; a provider that sends the model only in the body takes any."""
    pattern = provider.model_id_pattern
    if pattern is None or (pattern.fullmatch(model) and ".." not in model):
        return
    shown = repr(model[:80]) + ("..." if len(model) > 80 else "")
    raise RequestRejected(
        f"model {shown} is not a valid model id for provider {provider.name!r} ({provider.kind}): it goes "
        "into the upstream path, so it may hold only letters, digits, '.', '_', '-' and '@' (not '..'), "
        "at most 128 characters", param="model")


def path_segment(value: str) -> str:
    """*value* percent-encoded as one URL path segment ('/' too). Valid model ids need no encoding:
    this holds even if a provider plugin forgets :func:`check_model_id`."""
    return quote(value, safe="@")


def check_upstream_url(provider: Provider, url: str) -> None:
    """The URL must be the provider's base URL plus a clean path and only the query parameters the
    provider declares (raise RequestRejected)."""
    refusal = _url_refusal(provider.base_url, provider.query_keys, url)
    if refusal is not None:
        message, param = refusal
        raise RequestRejected(message.format(name=provider.name), param=param)


@lru_cache(maxsize=4096)        # a route calls the same few URLs: the verdict is a pure function of these
def _url_refusal(base: str, query_keys: frozenset[str], url: str) -> tuple[str, str | None] | None:
    if not url.startswith(base) or (len(url) > len(base) and url[len(base)] not in "/?"):
        return "provider {name!r}: the upstream URL left its configured base URL", None
    rest = url[len(base):]
    path, _, query = rest.partition("?")
    if _BAD_PATH.search(path) or _BAD_CHARS.search(rest):
        return ("the model or a path parameter contains characters that would change the "
                "upstream path (dot segments, encoded dots or slashes, backslashes, '#', "
                "whitespace or control characters)", "model")
    keys = [k for k, _ in parse_qsl(query, keep_blank_values=True)]
    if len(set(keys)) != len(keys) or not query_keys.issuperset(keys):
        return ("provider {name!r}: the upstream URL would carry query parameters "
                "the provider does not use (the model or a path parameter is malformed)", "model")
    return None


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
