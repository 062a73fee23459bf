"""Session ids bound to their caller: another key presenting one gets "session not found".

The id a client sees is the upstream's id plus an HMAC of (server, caller, upstream id), so
the gateway keeps no session table (any worker, any replica with the same
``mcp.session_secret`` checks it) and a stolen or guessed id is useless under another key.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_SEP = "."
_TAG_CHARS = 32
_PROCESS_SECRET = os.urandom(32)


class SessionIds:
    def __init__(self, secret: bytes | None) -> None:
        self._secret = secret or _PROCESS_SECRET

    def _tag(self, server: str, key_id: str, upstream: str) -> str:
        msg = f"{server}\x00{key_id}\x00{upstream}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:_TAG_CHARS]

    def wrap(self, server: str, key_id: str, upstream: str) -> str:
        return f"{upstream}{_SEP}{self._tag(server, key_id, upstream)}"

    def unwrap(self, server: str, key_id: str, presented: str) -> str | None:
        """The upstream id inside *presented*, or None when it is not this caller's session."""
        upstream, sep, tag = presented.rpartition(_SEP)
        if not sep or not upstream:
            return None
        return upstream if hmac.compare_digest(tag, self._tag(server, key_id, upstream)) else None
