"""Admission of one client request: the policy, the tool's rate limits, guardrails on its arguments.

A refusal is the protocol's own answer, a JSON-RPC error for the request's id (HTTP 200,
as the server itself would answer an unknown tool), and the upstream is never called.
A denied item is refused with the words an unknown one gets, so a caller cannot probe
for tools it may not see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.mcp import metering
from plugins.mcp.messages import DENIED, RATE_LIMITED, MessageError, target_of
from plugins.mcp.metering import ToolCall
from plugins.mcp.policy import permits
from plugins.mcp.tool_limits import ToolRateLimited, admit

if TYPE_CHECKING:
    from plugins.mcp.policy import Caller
    from plugins.mcp.state import McpState
    from proxy.context import RequestContext

_WHAT = {"tools": "Unknown tool", "prompts": "Unknown prompt", "resources": "Resource not found"}


async def admit_call(ctx: RequestContext, state: McpState, caller: Caller, server: str, msg: dict[str, Any],
                     size: int, shown_name: str | None = None) -> ToolCall | None:
    """Check one request; the tool call to meter when it is a permitted tools/call, else None."""
    target = target_of(msg)
    if target is None:
        return None
    msg_id = msg.get("id")
    call = ToolCall(server, target.name, caller, size, seq=1) if target.kind == "tools" else None
    if not permits(state.config, caller, server, target.kind, target.name):
        if call is not None:
            metering.record(ctx, call, "denied")
        raise MessageError(DENIED, f"{_WHAT[target.kind]}: {shown_name or target.name}", status=200, msg_id=msg_id)
    if call is None:
        return None
    try:
        await admit(ctx.gateway, state.config, caller, server, target.name, f"{ctx.request_id}")
    except ToolRateLimited as exc:
        metering.record(ctx, call, "rate_limited", error=exc.message)
        raise MessageError(RATE_LIMITED, f"Rate limit exceeded: {exc.message}", status=200, msg_id=msg_id,
                           data={"retryAfterSeconds": max(1, round(exc.retry_after))}) from None
    try:
        call.masked = state.check_arguments(server, msg.get("params") or {})
    except MessageError as exc:
        metering.record(ctx, call, "guardrail", error=exc.message)
        exc.msg_id = msg_id
        raise
    return call
