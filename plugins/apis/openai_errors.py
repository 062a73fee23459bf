"""The OpenAI error shape, shared by every OpenAI-style wire API."""

from __future__ import annotations

from typing import Any

from proxy.errors import GatewayError

# OpenAI's own `type` values for the statuses we produce.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error"}


def openai_error_body(err: GatewayError, request_id: str) -> dict[str, Any]:
    type_ = _TYPES.get(err.status, err.type if err.status < 500 else "server_error")
    code = getattr(err, "limit", None) and "rate_limit_exceeded"
    return {"error": {"message": err.message, "type": type_, "param": err.param,
                      "code": code or (err.type if err.type != type_ else None)}}
