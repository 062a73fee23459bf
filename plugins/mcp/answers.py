"""What the gateway does to each message an upstream sends back to one caller.

Per client HTTP request an :class:`Answers` knows which of the caller's request ids wait
for a list (to filter) and which one is a tool call (to meter and to pass the result
through guardrails). Notifications the caller may not see are dropped; server requests
(sampling, elicitation, roots) and everything else pass unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from plugins.mcp import metering
from plugins.mcp.filtering import filter_list, notification_allowed
from plugins.mcp.messages import GUARDRAIL, LIST_METHODS

if TYPE_CHECKING:
    from plugins.mcp.filtering import Allows
    from plugins.mcp.metering import ToolCall
    from plugins.mcp.state import McpState
    from proxy.context import RequestContext


class Answers:
    def __init__(self, ctx: RequestContext, state: McpState, server: str, allows: Allows, any_resource: bool) -> None:
        self.ctx, self.state, self.server, self.allows = ctx, state, server, allows
        self.any_resource = any_resource                # resource templates are listed only then
        self.lists: dict[Any, str] = {}                 # request id -> list method
        self.call_id: Any = None
        self.call: ToolCall | None = None
        self.response_bytes = 0

    def expect(self, msg: dict[str, Any], call: ToolCall | None) -> None:
        method = msg.get("method")
        if method in LIST_METHODS and "id" in msg:
            self.lists[msg["id"]] = method
        if call is not None:
            self.call_id, self.call = msg.get("id"), call

    def transform(self, raw: bytes) -> bytes | None:
        """The bytes of one upstream message for the caller: *raw* itself, a changed copy, or None (drop)."""
        self.response_bytes += len(raw)
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw                                  # not ours to judge: the client's SDK reports it
        if not isinstance(msg, dict):
            return raw
        if "method" in msg and "id" not in msg:
            return raw if notification_allowed(msg, self.allows) else None
        if "method" in msg:
            return raw                                  # a server request: sampling, elicitation, roots
        msg_id = msg.get("id")
        if msg_id in self.lists and isinstance(msg.get("result"), dict):
            method = self.lists.pop(msg_id)
            msg["result"] = filter_list(method, msg["result"], self.allows, self.any_resource)
            return orjson.dumps(msg)
        if self.call is not None and msg_id == self.call_id and ("result" in msg or "error" in msg):
            return self._finish_call(msg, raw)
        return raw

    def _finish_call(self, msg: dict[str, Any], raw: bytes) -> bytes:
        call, self.call = self.call, None
        assert call is not None
        result = msg.get("result")
        if not isinstance(result, dict):
            metering.record(self.ctx, call, "error", len(raw), error=str((msg.get("error") or {}).get("message", "")))
            return raw
        before = orjson.dumps(result)
        blocked = self.state.check_result(self.server, result)
        if blocked is not None:
            metering.record(self.ctx, call, "guardrail", len(raw), error=blocked)
            return orjson.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "error": {"code": GUARDRAIL, "message": blocked}})
        metering.record(self.ctx, call, "tool_error" if result.get("isError") else "ok", len(raw))
        if orjson.dumps(result) != before:              # masked
            return orjson.dumps(msg)
        return raw

    def unfinished(self) -> None:
        """The upstream's answer ended before the tool call's result: metered as incomplete."""
        if self.call is not None:
            call, self.call = self.call, None
            metering.record(self.ctx, call, "incomplete", self.response_bytes)

