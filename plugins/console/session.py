"""Console sessions: an HMAC-signed cookie, and the CSRF token every form posts back.

The cookie holds the actor (name, kind, role), an expiry and a random CSRF token; it is
``HttpOnly``, ``SameSite=Lax``, ``Secure`` behind HTTPS, and scoped to the console's path.
A state-changing request must carry the session's CSRF token in its form *and* come from
the console's own origin when the browser says where it came from (``Origin``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

import orjson

from plugins.admin.actors import Actor

COOKIE = "relaygate_console"
_PROCESS_SECRET = os.urandom(32)


@dataclass(frozen=True, slots=True)
class Session:
    actor: Actor
    csrf: str
    expires: float


def signing_key(configured: str | None, admin_token: str | None) -> bytes:
    """The configured secret; else one derived from the admin token (the same on every replica);
    else this process's own (sessions then last as long as the process)."""
    if configured:
        return hashlib.sha256(b"relaygate-console-session:" + configured.encode()).digest()
    if admin_token:
        return hmac.new(admin_token.encode(), b"relaygate-console-session", hashlib.sha256).digest()
    return _PROCESS_SECRET


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(actor: Actor, key: bytes, minutes: int) -> tuple[str, Session]:
    session = Session(actor, secrets.token_urlsafe(24), time.time() + minutes * 60)
    body = _b64(orjson.dumps({"n": actor.name, "k": actor.kind, "r": actor.role, "c": session.csrf,
                              "e": session.expires}))
    sig = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}", session


def read(cookie: str | None, key: bytes) -> Session | None:
    """The session in *cookie* when its signature holds and it has not expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    body, sig = cookie.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(sig, expected):
        return None
    try:
        data = orjson.loads(_unb64(body))
        session = Session(Actor(data["n"], data["k"], data["r"]), data["c"], float(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > time.time() else None


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf.encode(), str(presented).encode())
