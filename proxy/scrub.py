"""Provider credentials never reach a client inside a relayed provider error.

Providers quote the credential they were sent in error bodies: whole, shortened
(``sk-proj-abc…wxyz``), or inside a base64 blob (a Basic header echoed back). Every
error body relayed to a client, passthrough or translated, is scrubbed first of every
credential the route's provider holds (:meth:`proxy.providers.Provider.credentials`):

* any run of at least :data:`MIN_FRAGMENT` characters that also occurs in a credential
  (so its prefixes and suffixes, not only the whole), extended as far as it keeps matching;
* the credential in base64 (standard and url-safe alphabets, at each of the three
  alignments it can have inside a longer encoded string).

Each becomes ``[REDACTED]``; the rest of the body (the useful message) stays as it was.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

REDACTED = b"[REDACTED]"
#: the shortest piece of a credential worth hiding; shorter ones are common prefixes (``sk-proj-``)
#: or a last four characters that providers show on purpose
MIN_FRAGMENT = 8


def base64_forms(secret: bytes) -> list[bytes]:
    """The base64 text that encodes *secret* wherever it sits in a longer encoded string."""
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret)
        first = -(-offset * 8 // 6)                          # characters that mix in the bytes before
        last = (offset + len(secret)) * 8 // 6               # characters fully inside the secret
        core = encoded[first:last]
        if len(core) >= MIN_FRAGMENT:
            forms.append(core)
            urlsafe = core.replace(b"+", b"-").replace(b"/", b"_")
            if urlsafe != core:
                forms.append(urlsafe)
    return forms


def _fragment_spans(body: bytes, secret: bytes) -> list[tuple[int, int]]:
    """Spans of *body* that are runs of at least MIN_FRAGMENT characters of *secret*."""
    spans = []
    n = len(secret)
    for k in range(n - MIN_FRAGMENT + 1):
        window = secret[k:k + MIN_FRAGMENT]
        i = body.find(window)
        while i >= 0:
            start, end, a, b = i, i + MIN_FRAGMENT, k, k + MIN_FRAGMENT
            while start > 0 and a > 0 and body[start - 1] == secret[a - 1]:
                start, a = start - 1, a - 1
            while end < len(body) and b < n and body[end] == secret[b]:
                end, b = end + 1, b + 1
            spans.append((start, end))
            i = body.find(window, i + 1)
    return spans


def scrub(body: bytes, credentials: Iterable[str]) -> bytes:
    """*body* with every credential, long piece of one, or base64 form of one replaced."""
    spans: list[tuple[int, int]] = []
    for credential in credentials:
        secret = credential.encode()
        if len(secret) < MIN_FRAGMENT:
            continue
        spans += _fragment_spans(body, secret)
        for form in base64_forms(secret):
            i = body.find(form)
            while i >= 0:
                spans.append((i, i + len(form)))
                i = body.find(form, i + 1)
    if not spans:
        return body
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out += [body[pos:start], REDACTED]
        pos = end
    out.append(body[pos:])
    return b"".join(out)
