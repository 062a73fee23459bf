"""The MCP gateway's live state, rebuilt on every configuration load."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plugins.guardrails.filters import CompiledRule, apply, compile_rule
from plugins.mcp.config import McpConfig, McpServerConfig
from plugins.mcp.messages import GUARDRAIL, MessageError
from plugins.mcp.policy import Caller, may_reach, permits
from plugins.mcp.sessions import SessionIds
from plugins.mcp.vault import VAULT_KEY_ENV, Vault, VaultError
from proxy.errors import RequestRejected
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.config import Settings

#: what guardrails read in a tools/call's params and in its result
ARGUMENT_KEYS = frozenset({"arguments"})
RESULT_KEYS = frozenset({"content", "structuredContent"})


@dataclass
class McpState:
    config: McpConfig
    servers: dict[str, McpServerConfig]
    sessions: SessionIds
    vault: Vault | None
    #: per server: (input rules, output rules) of the top-level guardrails plus the server's own
    rules: dict[str, tuple[list[CompiledRule], list[CompiledRule]]] = field(default_factory=dict)

    def allows(self, caller: Caller, server: str) -> Any:
        def check(kind: str, name: str) -> bool:
            return permits(self.config, caller, server, kind, name)
        return check

    def reachable(self, caller: Caller) -> list[str]:
        return [name for name in self.servers if may_reach(self.config, caller, name)]

    def upstream_headers(self, server: str, caller: Caller) -> dict[str, str]:
        """The shared credentials of *server*, or the caller's own (per_user), never the caller's gateway key."""
        cfg = self.servers[server]
        headers = {k: v.get_secret_value() for k, v in cfg.headers.items()}
        if cfg.credentials == "per_user":
            if self.vault is None:
                raise MessageError(-32003, f"server {server!r} needs per-user credentials, and the gateway "
                                   "has no vault configured (mcp.vault_path, mcp.vault_key)", status=503)
            try:
                secret = self.vault.get(server, (caller.owner, caller.key_id))
            except VaultError as exc:
                raise MessageError(-32003, str(exc), status=503) from None
            if secret is None:
                raise MessageError(-32003, f"no credential of yours is stored for MCP server {server!r}; ask an "
                                   "administrator to add one (relaygate mcp-credentials set)", status=403)
            headers[cfg.credential_header] = cfg.credential_format.format(credential=secret)
        return headers

    def check_arguments(self, server: str, params: dict[str, Any]) -> bool:
        """Mask *params* in place (True when masked), or raise MessageError for a blocking rule."""
        rules = self.rules.get(server, ([], []))[0]
        if not rules:
            return False
        try:
            return apply(rules, params, ARGUMENT_KEYS, "tool call")
        except RequestRejected as exc:
            raise MessageError(GUARDRAIL, exc.message, status=200) from None

    def check_result(self, server: str, result: dict[str, Any]) -> str | None:
        """Mask *result* in place; the refusal's message when a blocking rule matched."""
        rules = self.rules.get(server, ([], []))[1]
        if rules:
            try:
                apply(rules, result, RESULT_KEYS, "tool result")
            except RequestRejected as exc:
                return exc.message
        return None


MCP_STATE: StashKey[McpState] = StashKey("mcp.state")


def build_state(settings: Settings, old: McpState | None) -> McpState:
    config = settings.section(McpConfig)
    servers: dict[str, McpServerConfig] = settings.mcp_servers  # type: ignore[attr-defined]
    secret = config.session_secret.get_secret_value().encode() if config.session_secret else None
    vault = None
    if any(s.credentials == "per_user" for s in servers.values()) or config.vault_path:
        key = config.vault_key.get_secret_value() if config.vault_key else os.environ.get(VAULT_KEY_ENV, "")
        try:
            vault = Vault(config.vault_path, key)
        except VaultError:
            vault = None                      # per-user servers answer with the reason (check-config warns)
    served = {n: s for n, s in servers.items() if s.transport != "stdio" or config.stdio_enabled}   # off unless enabled
    state = McpState(config, served, SessionIds(secret), vault)
    top: list[Any] = list(getattr(settings, "guardrails", []))
    for name, server in servers.items():
        merged = {r.name: r for r in top} | {r.name: r for r in server.guardrails}
        compiled = [c for r in merged.values() if (c := compile_rule(r)) is not None]
        state.rules[name] = ([c for c in compiled if c.on_input], [c for c in compiled if c.on_output])
    return state
