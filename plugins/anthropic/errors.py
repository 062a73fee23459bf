"""Anthropic's error types by HTTP status: one table for the gateway's own errors and translated ones."""

from __future__ import annotations

from typing import Any

import orjson

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "overloaded_error",
               504: "timeout_error", 529: "overloaded_error"}


def anthropic_error_type(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


#: phrases of Anthropic errors that say the account, not the moment, is the problem
_EXHAUSTED_PHRASES = ("credit balance", "usage limit", "spend limit")


def anthropic_quota_exhausted(body: bytes) -> bool:
    """A 429 that is a ``billing_error`` or names the credit balance or a usage/spend limit (Anthropic
    usually says so with 400/402, which are never retried anyway; its ordinary 429 is rate_limit_error)."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return False
    message = str(err.get("message", "")).lower()
    return err.get("type") == "billing_error" or any(p in message for p in _EXHAUSTED_PHRASES)
