"""What a stored key may hold, checked in full before anything is written (admin API and CLI).

A value that cannot be shown again (an expiry past year 9999, a name with control
characters) must never reach the store: one such row used to make every listing fail.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from plugins.keystore.records import OWNER_KINDS, parse_duration, parse_time

#: names, owners and teams: letters, digits and . _ @ : + - (owners are often e-mail addresses)
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]*")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+=/-]*")
_ENDPOINT = re.compile(r"[\x21-\x7e]+")                 # printable ASCII, no spaces (may hold / and *)
#: a name may not pass for a stored key's id: rules name keys by either
_KEY_ID = re.compile(r"key_[0-9a-f]{16}")
MAX_NAME = 64
MAX_OWNER = 128
MAX_TAGS = 32
MAX_TAG = 64
MAX_ENDPOINTS = 256
MAX_ENDPOINT = 256
#: the expiry range: from 2000-01-01 (older is a mistake, not a date) to the last second an
#: ISO 8601 date can show (9999-12-31T23:59:59Z)
EARLIEST_EXPIRY = 946_684_800.0
LATEST_EXPIRY = 253_402_300_799.0
_RANGE = "the expiry must be a time between 2000-01-01 and 9999-12-31"


def _label(value: Any, field: str, max_len: int, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise ValueError(f"'{field}' is required")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'{field}' must be a string")
    if len(value) > max_len or not _LABEL.fullmatch(value):
        raise ValueError(f"'{field}' must be 1-{max_len} characters: letters, digits and . _ @ : + - "
                         "(starting with a letter or digit)")
    return value


def check_name(value: Any) -> str:
    name = _label(value, "name", MAX_NAME, required=True)
    if _KEY_ID.fullmatch(name):
        raise ValueError("'name' must not look like a key id (key_ and 16 hex digits): rules name keys by either")
    return name


def _strings(value: Any, field: str, pattern: re.Pattern[str], max_items: int, max_len: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{field}' must be a list of strings")
    if len(value) > max_items:
        raise ValueError(f"'{field}' holds at most {max_items} entries, got {len(value)}")
    for v in value:
        if not v or len(v) > max_len or not pattern.fullmatch(v):
            raise ValueError(f"'{field}' entries must be 1-{max_len} printable characters without spaces; "
                             f"got {v[:40]!r}")
    return list(value)


def check_expiry(at: float) -> float:
    if not math.isfinite(at) or not EARLIEST_EXPIRY <= at <= LATEST_EXPIRY:
        raise ValueError(_RANGE)
    return at


def expiry_from(expires_at: Any, expires_in: Any, now: float | None = None) -> float | None:
    """The expiry an ``expires_at`` (ISO 8601 or epoch seconds) or ``expires_in`` (``30d``) asks for."""
    now = time.time() if now is None else now
    if expires_in is not None and expires_at is not None:
        raise ValueError("give expires_at or expires_in, not both")
    if expires_in is not None:
        if not isinstance(expires_in, str):
            raise ValueError("'expires_in' must be a duration such as 30d, 12h or 15m")
        seconds = parse_duration(expires_in)
        if not 0 < seconds <= LATEST_EXPIRY - now:
            raise ValueError(f"'expires_in' must be more than 0 and end by 9999-12-31; got {expires_in[:40]!r}")
        return now + seconds
    if expires_at is None or expires_at == "":
        return None
    if isinstance(expires_at, bool) or not isinstance(expires_at, (str, int, float)):
        raise ValueError("'expires_at' must be an ISO 8601 time or epoch seconds")
    try:
        at = parse_time(expires_at)
    except OverflowError:
        raise ValueError(_RANGE) from None
    return None if at is None else check_expiry(at)


def check_key_fields(*, name: Any, owner: Any = "", owner_kind: Any = "user", team: Any = "",
                     tags: Any = (), endpoints: Any = None) -> dict[str, Any]:
    """Every field of a new key, validated and normalised, or ValueError naming the first bad one."""
    if owner_kind not in OWNER_KINDS:
        raise ValueError(f"'owner_kind' must be one of {', '.join(OWNER_KINDS)}, got {owner_kind!r}")
    return {
        "name": check_name(name),
        "owner": _label(owner, "owner", MAX_OWNER),
        "owner_kind": owner_kind,
        "team": _label(team, "team", MAX_OWNER),
        "tags": _strings(list(tags) if isinstance(tags, tuple) else tags, "tags", _TAG, MAX_TAGS, MAX_TAG),
        "endpoints": None if endpoints is None else _strings(
            list(endpoints) if isinstance(endpoints, tuple) else endpoints, "endpoints", _ENDPOINT,
            MAX_ENDPOINTS, MAX_ENDPOINT),
    }
