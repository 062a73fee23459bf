"""The OpenAI error shape and its one status table, shared by every OpenAI-style wire API.

Gateway refusals and errors translated from other providers both take their
``type`` from :data:`ERROR_TYPES`, so a client sees the same error for the same
status whichever route produced it (passthrough relays OpenAI's own body).
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.errors import GatewayError

#: OpenAI's own ``type`` values by HTTP status
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 409: "invalid_request_error", 413: "invalid_request_error",
               422: "invalid_request_error", 429: "rate_limit_error"}


def openai_error_type(status: int, fallback: str = "invalid_request_error") -> str:
    return ERROR_TYPES.get(status) or ("server_error" if status >= 500 else fallback)


def openai_error(status: int, message: str, type_: str | None = None, code: Any = None,
                 param: Any = None) -> dict[str, Any]:
    """An OpenAI error body (the pivot's error shape too)."""
    return {"error": {"message": message, "type": type_ or openai_error_type(status), "param": param, "code": code}}


def openai_error_body(err: GatewayError, request_id: str) -> dict[str, Any]:
    type_ = openai_error_type(err.status, fallback=err.type)
    code = (getattr(err, "limit", None) and "rate_limit_exceeded") or getattr(err, "code", None)
    return {"error": {"message": err.message, "type": type_, "param": err.param,
                      "code": code or (err.type if err.type != type_ else None)}}


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else {}


def openai_quota_exhausted(body: bytes) -> bool:
    """OpenAI's (and Azure's) 429 ``insufficient_quota``: out of credit, not merely rate limited."""
    err = _error_object(body)
    return any(str(err.get(k) or "").lower().replace("_", "") == "insufficientquota" for k in ("code", "type"))
