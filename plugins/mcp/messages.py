"""JSON-RPC messages as the gateway reads them: parsed and checked with the ``mcp`` SDK's types.

A client message is one JSON-RPC object (batches are refused: the current protocol has
none, and a batch mixing allowed and denied calls must not run half of itself). Each
request is classified by what it touches, so the policy can be asked about it:

    tools/call                      -> ("tools", params.name)
    prompts/get                     -> ("prompts", params.name)
    resources/read, /subscribe,
    /unsubscribe                    -> ("resources", params.uri)
    completion/complete             -> the prompt or resource its ``ref`` names
    *list methods                   -> relayed; the answer is filtered
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

#: what a client may send through the gateway; anything else is refused (deny by default)
RELAYED_METHODS = frozenset({
    "initialize", "ping", "logging/setLevel", "server/discover",
    "tools/list", "prompts/list", "resources/list", "resources/templates/list",
    "tools/call", "prompts/get", "resources/read", "resources/subscribe", "resources/unsubscribe",
    "completion/complete",
})
LIST_METHODS = {"tools/list": "tools", "prompts/list": "prompts", "resources/list": "resources",
                "resources/templates/list": "resourceTemplates"}
# JSON-RPC 2.0's own codes (mcp_types has them too; it is imported only when a message is checked:
# building its models costs a second or two, which no CLI command or start-up should pay)
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: JSON-RPC code of a refusal by policy: the item is unknown to this caller (as for a missing tool)
DENIED = INVALID_PARAMS
#: implementation-defined codes of the gateway (JSON-RPC server-error band)
RATE_LIMITED = -32005
UPSTREAM_ERROR = -32003
GUARDRAIL = -32004


class MessageError(Exception):
    """A message the gateway refuses before any upstream call: a JSON-RPC error and its HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400, msg_id: Any = None, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.msg_id, self.data = code, message, status, msg_id, data

    def body(self) -> bytes:
        return error_body(self.msg_id, self.code, self.message, self.data)


def error_body(msg_id: Any, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": msg_id, "error": error})


@dataclass(frozen=True, slots=True)
class Target:
    """What one request touches: a (kind, name) the policy decides on."""

    kind: str            # "tools", "prompts" or "resources"
    name: str            # a tool or prompt name, or a resource URI


def parse(raw: bytes) -> dict[str, Any]:
    """One JSON-RPC message from a client, checked against the SDK's envelope types."""
    import mcp_types as t

    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MessageError(PARSE_ERROR, f"Parse error: the body is not JSON ({exc})") from None
    if isinstance(data, list):
        raise MessageError(INVALID_REQUEST, "JSON-RPC batches are not accepted: send one message per "
                           "request (MCP 2025-06-18 and later have no batches)")
    if not isinstance(data, dict):
        raise MessageError(INVALID_REQUEST, "Invalid Request: a JSON-RPC message is a JSON object")
    msg_id = data.get("id") if isinstance(data.get("id"), (str, int)) else None
    try:
        t.jsonrpc_message_adapter.validate_python(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else ""
        raise MessageError(INVALID_REQUEST, f"Invalid Request: not a JSON-RPC 2.0 message ({where})",
                           msg_id=msg_id) from None
    return data


def is_request(msg: dict[str, Any]) -> bool:
    return "method" in msg and "id" in msg


def _params(msg: dict[str, Any], name: str) -> Any:
    import mcp_types as t

    model = getattr(t, name)
    try:
        return model.model_validate(msg.get("params") or {})
    except ValidationError as exc:
        loc = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else "params"
        raise MessageError(INVALID_PARAMS, f"Invalid params for {msg['method']}: {loc}",
                           msg_id=msg.get("id"), status=200) from None


def target_of(msg: dict[str, Any]) -> Target | None:
    """The item a request touches, or None for requests that touch none (lists, ping, ...)."""
    import mcp_types as t

    method = msg.get("method")
    if method == "tools/call":
        return Target("tools", _params(msg, "CallToolRequestParams").name)
    if method == "prompts/get":
        return Target("prompts", _params(msg, "GetPromptRequestParams").name)
    if method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
        return Target("resources", str(_params(msg, "ReadResourceRequestParams").uri))
    if method == "completion/complete":
        ref = _params(msg, "CompleteRequestParams").ref
        if isinstance(ref, t.PromptReference):
            return Target("prompts", ref.name)
        return Target("resources", str(ref.uri))
    return None


def check_method(msg: dict[str, Any]) -> None:
    method = msg.get("method")
    if not isinstance(method, str):
        return                                  # a response to a server request (sampling, elicitation)
    if method.startswith("notifications/"):
        return
    if method not in RELAYED_METHODS:
        raise MessageError(METHOD_NOT_FOUND, f"Method not found: {method!r} is not relayed by the gateway",
                           msg_id=msg.get("id"), status=200 if "id" in msg else 400)
