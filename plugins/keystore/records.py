"""A stored gateway key: what the store holds (never the secret) and how it is shown.

The secret (``rg-`` + 32 random url-safe bytes) exists only in the answer to
the create call; the store keeps its SHA-256 digest, plus a short prefix so
people can tell their keys apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from proxy.context import Principal

log = logging.getLogger("relaygate.keystore")
OwnerKind = Literal["user", "team", "agent"]
OWNER_KINDS: tuple[str, ...] = ("user", "team", "agent")
SECRET_PREFIX = "rg-"
SHOWN_PREFIX_LEN = 8              # "rg-" + 5 characters of the random part


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def iso(ts: float | None) -> str | None:
    """ISO 8601 (UTC) of epoch seconds; a stored value no date can show comes back as "invalid: <value>"."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError, TypeError):
        return f"invalid: {ts!r}"


def parse_time(value: str | float | int | None) -> float | None:
    """Epoch seconds from an ISO 8601 string (UTC when no offset) or a number."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> float:
    """Seconds from ``90s``, ``15m``, ``12h``, ``30d`` or ``2w``."""
    text = value.strip().lower()
    if len(text) >= 2 and text[-1] in _UNITS and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * _UNITS[text[-1]]
    raise ValueError(f"not a duration (like 30d, 12h, 15m): {value!r}")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    key_sha256: str
    prefix: str
    name: str
    owner: str
    owner_kind: str = "user"
    team: str = ""
    tags: tuple[str, ...] = ()
    endpoints: tuple[str, ...] | None = None      # None: every endpoint
    created_at: float = field(default_factory=time.time)
    expires_at: float | None = None
    revoked_at: float | None = None
    updated_at: float = field(default_factory=time.time)

    # -- state
    def refusal(self, now: float) -> str | None:
        """Why this key may not be used at *now*, or None when it may."""
        if self.revoked_at is not None:
            return (f"this key was revoked at {iso(self.revoked_at)} (key id {self.id}); "
                    "ask an administrator for a new key")
        if self.expires_at is not None and self.expires_at <= now:
            return (f"this key expired at {iso(self.expires_at)} (key id {self.id}); "
                    "ask an administrator for a new key")
        return None

    def status(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def principal(self) -> Principal:
        return Principal(key_id=self.id, owner=self.owner or self.name, team=self.team,
                         endpoints=frozenset(self.endpoints) if self.endpoints is not None else None,
                         tags=self.tags, key_name=self.name)

    def with_changes(self, **changes: Any) -> KeyRecord:
        return replace(self, updated_at=time.time(), **changes)

    # -- shapes
    def public(self) -> dict[str, Any]:
        """What the admin API and the CLI show: never the secret, never its hash."""
        return {
            "id": self.id, "name": self.name, "prefix": self.prefix, "owner": self.owner,
            "owner_kind": self.owner_kind, "team": self.team, "tags": list(self.tags),
            "endpoints": list(self.endpoints) if self.endpoints is not None else None,
            "status": self.status(), "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
        }

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.key_sha256, self.prefix, self.name, self.owner, self.owner_kind, self.team,
                json.dumps(list(self.tags)),
                None if self.endpoints is None else json.dumps(list(self.endpoints)),
                self.created_at, self.expires_at, self.revoked_at, self.updated_at)

    @classmethod
    def from_row(cls, r: Any) -> KeyRecord:
        """A record from a stored row, whatever the row holds: a damaged value never makes a listing
        (or the key cache) fail. Damaged endpoints scope the key to nothing: fail closed."""
        endpoints = r["endpoints"]
        return cls(id=_text(r["id"]), key_sha256=_text(r["key_sha256"]), prefix=_text(r["prefix"]),
                   name=_text(r["name"]), owner=_text(r["owner"]), owner_kind=_text(r["owner_kind"]),
                   team=_text(r["team"]), tags=_string_list(r["tags"]) or (),
                   endpoints=None if endpoints is None else (_string_list(endpoints) or ()),
                   created_at=_stamp(r["created_at"]) or 0.0, expires_at=_stamp(r["expires_at"]),
                   revoked_at=_stamp(r["revoked_at"]), updated_at=_stamp(r["updated_at"]) or 0.0)


def from_rows(rows: Any) -> list[KeyRecord]:
    """Records of *rows*, leaving out (and logging) any row that cannot be read at all."""
    records = []
    for r in rows:
        try:
            records.append(KeyRecord.from_row(r))
        except Exception as exc:            # a missing column, a driver surprise: skip this row only
            log.warning("key store: skipping an unreadable row: %s", type(exc).__name__)
    return records


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _stamp(value: Any) -> float | None:
    """Epoch seconds, None when unset; a damaged value reads as the distant past (a damaged
    ``revoked_at`` or ``expires_at`` still refuses the key: fail closed)."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _string_list(value: Any) -> tuple[str, ...] | None:
    """A JSON list of strings, or None when the stored text is not one."""
    try:
        parsed = json.loads(value or "[]")
    except (TypeError, ValueError):
        return None
    if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
        return None
    return tuple(parsed)


ROW_COLUMNS = ("id", "key_sha256", "prefix", "name", "owner", "owner_kind", "team", "tags", "endpoints",
               "created_at", "expires_at", "revoked_at", "updated_at")


def new_key(*, name: str, owner: str = "", owner_kind: str = "user", team: str = "",
            tags: list[str] | tuple[str, ...] = (), endpoints: list[str] | tuple[str, ...] | None = None,
            expires_at: float | None = None) -> tuple[KeyRecord, str]:
    """A new record and its secret; the secret is not kept anywhere."""
    if not name or not isinstance(name, str):
        raise ValueError("'name' is required")
    if owner_kind not in OWNER_KINDS:
        raise ValueError(f"'owner_kind' must be one of {', '.join(OWNER_KINDS)}, got {owner_kind!r}")
    for label, values in (("tags", tags), ("endpoints", endpoints or ())):
        if not all(isinstance(v, str) and v for v in values):
            raise ValueError(f"'{label}' must be a list of non-empty strings")
    secret = new_secret()
    now = time.time()
    record = KeyRecord(id=new_key_id(), key_sha256=digest(secret), prefix=secret[:SHOWN_PREFIX_LEN],
                       name=name, owner=owner or name, owner_kind=owner_kind, team=team, tags=tuple(tags),
                       endpoints=None if endpoints is None else tuple(endpoints), created_at=now,
                       expires_at=expires_at, updated_at=now)
    return record, secret
