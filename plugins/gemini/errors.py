"""google.rpc status names by HTTP status: one table for the gateway's own errors and translated ones."""

from __future__ import annotations

from typing import Any

import orjson

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
                500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}

#: a provider's google.rpc status -> the HTTP status it means
STATUS_FROM_GOOGLE = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
                      "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
                      "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500,
                      "UNKNOWN": 500, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}


def gemini_status_name(status: int) -> str:
    return STATUS_NAMES.get(status) or ("INVALID_ARGUMENT" if status < 500 else "INTERNAL")


def gemini_quota_exhausted(body: bytes) -> bool:
    """A RESOURCE_EXHAUSTED whose ``google.rpc.QuotaFailure`` names a per-day quota: it will not pass by
    waiting (a per-minute one, or a 429 without details, is ordinary rate limiting)."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    err = data.get("error") if isinstance(data, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            for v in detail.get("violations") or ():
                if isinstance(v, dict) and "PerDay" in str(v.get("quotaId", "")):
                    return True
    return False
