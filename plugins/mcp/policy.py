"""Least privilege for MCP: one function decides both what is listed and what may be called.

Deny by default: a caller may use a server's tool, prompt or resource only when a grant
of ``mcp.policies`` names the caller (one of its key names, its owner, its team or one of
its groups, by name or fnmatch pattern) and, for a server pattern matching the server, a
name pattern matching the item. ``tools/list`` keeps exactly the tools :func:`permits`
allows, and ``tools/call`` refuses exactly the others, so nothing listed is uncallable
and nothing callable is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugins.mcp.config import McpAccess, McpConfig, McpGrant
    from proxy.context import Principal

KINDS = ("tools", "prompts", "resources")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls, as policies see it. Built from any principal: an SSO principal that carries
    ``groups`` plugs in without a change here."""

    key_id: str
    key_names: tuple[str, ...]
    owner: str = ""
    team: str = ""
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        groups = getattr(principal, "groups", ()) or ()
        return cls(principal.key_id, principal.names, principal.owner, principal.team, tuple(groups))


def _any(patterns: list[str], values: tuple[str, ...]) -> bool:
    return any(v and fnmatchcase(v, p) for p in patterns for v in values)


def names_caller(grant: McpGrant, caller: Caller) -> bool:
    return (_any(grant.keys, caller.key_names) or _any(grant.owners, (caller.owner,))
            or _any(grant.teams, (caller.team,)) or _any(grant.groups, caller.groups))


def _accesses(config: McpConfig, caller: Caller, server: str) -> list[McpAccess]:
    return [access for grant in config.policies if names_caller(grant, caller)
            for pattern, access in grant.servers.items() if fnmatchcase(server, pattern)]


def permits(config: McpConfig, caller: Caller, server: str, kind: str, name: str) -> bool:
    """True when *caller* may list and use the *kind* item *name* of *server*."""
    assert kind in KINDS, kind
    return any(fnmatchcase(name, p) for access in _accesses(config, caller, server) for p in getattr(access, kind))


def may_reach(config: McpConfig, caller: Caller, server: str) -> bool:
    """True when some grant gives *caller* anything on *server* (else the server is not shown at all)."""
    return any(access.tools or access.prompts or access.resources for access in _accesses(config, caller, server))


def grants_kind(config: McpConfig, caller: Caller, server: str, kind: str) -> bool:
    """True when some grant gives *caller* at least one pattern of *kind* on *server*."""
    return any(getattr(access, kind) for access in _accesses(config, caller, server))
