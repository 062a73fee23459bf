"""Tool-level rate limits (``mcp.rate_limits``), counted by the gateway's limiter.

Each matching rule is one sliding window of the limiter in plugins/limits (the memory
backend per process, or Redis shared by replicas when ``limits.backend: redis``), so
"10 calls a minute" holds across replicas exactly as model limits do. Per rule, every
caller (``per: key | owner | team``) or everyone together (``per: all``) gets a window.
"""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from plugins.limits.admission import LIMITER
from plugins.limits.rules import Limit
from plugins.limits.windows import LimiterBackend, MemoryBackend
from proxy.stash import StashKey

if TYPE_CHECKING:
    from plugins.mcp.config import McpConfig
    from plugins.mcp.policy import Caller
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.mcp")
_OWN_BACKEND: StashKey[LimiterBackend] = StashKey("mcp.limiter_backend")


class ToolRateLimited(Exception):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


def _backend(gateway: Gateway) -> LimiterBackend:
    limiter = gateway.stash.get(LIMITER)
    if limiter is not None:
        return limiter.backend
    found = gateway.stash.get(_OWN_BACKEND)
    if found is None:
        found = gateway.stash[_OWN_BACKEND] = MemoryBackend()
    return found


def limits_for(config: McpConfig, caller: Caller, server: str, tool: str) -> list[Limit]:
    found = []
    for i, rule in enumerate(config.rate_limits):
        if not (fnmatchcase(server, rule.server) and fnmatchcase(tool, rule.tool)):
            continue
        subject = {"key": caller.key_id, "owner": caller.owner, "team": caller.team, "all": "*"}[rule.per]
        who = caller.key_names[-1] if rule.per == "key" else subject
        shown = "everyone" if rule.per == "all" else f"{rule.per} {who!r}"
        found.append(Limit(id=f"mcp:{i}:{server}:{tool}:{rule.per}:{subject}", kind="requests",
                           capacity=rule.calls_per_minute, label="mcp_tool_calls_per_minute",
                           subject=f"tool {server}/{tool} for {shown}"))
    return found


async def admit(gateway: Gateway, config: McpConfig, caller: Caller, server: str, tool: str, member: str) -> None:
    """Count one call of *tool* or raise ToolRateLimited (nothing counted then)."""
    limits = limits_for(config, caller, server, tool)
    if not limits:
        return
    try:
        denial = await _backend(gateway).acquire(member, [(limit, 1) for limit in limits], [])
    except Exception as exc:                 # Redis down: the limits plugin's own choice applies
        limiter = gateway.stash.get(LIMITER)
        if limiter is not None and limiter.config.on_backend_error == "allow":
            log.warning("rate limiter unavailable, admitting MCP call: %s", exc)
            return
        raise ToolRateLimited("the rate limiter is unavailable; try again shortly", 1.0) from None
    if denial is not None:
        limit = limits[denial.index]
        raise ToolRateLimited(f"{limit.describe()} exceeded; retry after {max(1, round(denial.retry_after))} s",
                              denial.retry_after)
