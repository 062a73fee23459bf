"""Exceptions the pipeline turns into client-facing errors.

    GatewayError                      status, type, message, param
    ├── InternalError                 500: a bug in the gateway, answered in the client's shape
    ├── ClientError                   the request is wrong (4xx)
    │   ├── AuthenticationFailed      401: no valid gateway key
    │   ├── PermissionDenied          403: the key may not call this endpoint
    │   ├── RequestRejected           400: invalid field, names ``param``
    │   ├── UnknownEndpoint           404: no endpoint of that name
    │   ├── RequestTimeout            408: the body arrived too slowly
    │   ├── PayloadTooLarge           413
    │   └── LimitExceeded             429: rate limit or budget (``retry_after``)
    └── UpstreamError                 the provider failed (5xx unless mapped)
        ├── UpstreamUnavailable       connection refused, DNS, TLS
        ├── UpstreamTimeout           connect / first byte / idle / total
        ├── UpstreamStatusError       the provider answered with an error status
        ├── UpstreamRedirect          the provider answered 3xx (never followed)
        └── UpstreamProtocolError     malformed or truncated provider data

Every surface renders these in its own API error shape (see plugins/apis).
"""

from __future__ import annotations


class GatewayError(Exception):
    status = 500
    type = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, status: int | None = None,
                 type: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers = headers or {}


class InternalError(GatewayError):
    """An unexpected exception on the request path: the client gets a 500 in its own error shape
    with the request id (nothing of the exception's text, which may quote the body)."""

    status = 500
    type = "internal_error"
    reason = "internal"

    def __init__(self, request_id: str) -> None:
        super().__init__(f"the gateway failed to handle this request (an internal error, logged as {request_id}); "
                         "please report it with this id")


class ClientError(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(ClientError):
    status = 401
    type = "authentication_error"


class PermissionDenied(ClientError):
    status = 403
    type = "permission_error"


class RequestRejected(ClientError):
    status = 400
    type = "invalid_request_error"


class UnknownEndpoint(ClientError):
    status = 404
    type = "not_found_error"


class RequestTimeout(ClientError):
    status = 408
    type = "request_timeout"


class PayloadTooLarge(ClientError):
    status = 413
    type = "request_too_large"


class LimitExceeded(ClientError):
    status = 429
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float, limit: str, **kw: object) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message, headers={"Retry-After": str(seconds)}, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.limit = limit


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"
    reason = "error"


class UpstreamUnavailable(UpstreamError):
    status = 502
    reason = "connect"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    reason = "timeout"


class UpstreamStatusError(UpstreamError):
    """The provider answered with an error status; ``body`` is its raw error body."""

    def __init__(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        super().__init__(f"provider answered HTTP {status}", status=status)
        self.body = body
        self.content_type = content_type
        self.upstream_headers = headers
        self.reason = str(status)


class UpstreamRedirect(UpstreamError):
    """A 3xx from the provider: never followed, so credentials go only to configured hosts."""

    status = 502
    reason = "redirect"


class UpstreamProtocolError(UpstreamError):
    status = 502
    reason = "protocol"
