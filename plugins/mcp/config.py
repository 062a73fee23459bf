"""``mcp_servers:`` (the upstream MCP servers) and ``mcp:`` (policies, limits, transport checks).

Every upstream address comes from here, never from a request: a server is named by the
path ``/mcp/{server}``, and the name is looked up in this table. stdio servers (a command the
gateway spawns) are accepted only when ``mcp.stdio_enabled`` is true.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from plugins.guardrails.config import GuardrailRule
from proxy.config import ConfigModel

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


class McpTimeouts(ConfigModel):
    connect_seconds: float = Field(10.0, gt=0)
    #: one call (a JSON answer, or a whole SSE answer stream); 0: no limit (long-lived GET streams)
    total_seconds: float = Field(300.0, ge=0)


class McpServerConfig(ConfigModel):
    """One upstream MCP server."""

    transport: Literal["streamable_http", "sse", "stdio"] = "streamable_http"
    url: str = ""
    #: stdio only: the command and its arguments (never from a request)
    command: list[str] = []
    env: dict[str, SecretStr] = {}
    #: shared upstream credentials, sent on every call (values by ``${ENV}`` reference)
    headers: dict[str, SecretStr] = {}
    #: ``per_user``: each caller's own credential (the vault, see ``mcp.vault_path``) replaces the shared one
    credentials: Literal["shared", "per_user"] = "shared"
    credential_header: str = "Authorization"
    credential_format: str = "Bearer {credential}"
    timeouts: McpTimeouts = McpTimeouts()
    #: added to the top-level ``guardrails:`` for this server's tool arguments and results
    guardrails: list[GuardrailRule] = []

    @model_validator(mode="after")
    def _check(self) -> McpServerConfig:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("a stdio server needs 'command'")
            if self.url:
                raise ValueError("a stdio server takes 'command', not 'url'")
        else:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"'url' must be an http(s) URL, got {self.url!r}")
            if self.command:
                raise ValueError("'command' is only for transport: stdio")
        if "{credential}" not in self.credential_format:
            raise ValueError("'credential_format' must contain {credential}")
        return self


class McpAccess(ConfigModel):
    """What a grant allows on one server: names or fnmatch patterns (resources: URIs)."""

    tools: list[str] = []
    prompts: list[str] = []
    resources: list[str] = []


class McpGrant(ConfigModel):
    """Who (any listed key, owner, team or group; names or patterns) may use what, per server pattern."""

    keys: list[str] = []
    owners: list[str] = []
    teams: list[str] = []
    groups: list[str] = []
    servers: dict[str, McpAccess] = {}

    @model_validator(mode="after")
    def _check(self) -> McpGrant:
        if not (self.keys or self.owners or self.teams or self.groups):
            raise ValueError("a grant names at least one of keys, owners, teams, groups")
        return self


class McpToolLimit(ConfigModel):
    """Calls per minute of matching tools, per caller (``per``) or for everyone together."""

    server: str = "*"
    tool: str = "*"
    calls_per_minute: int = Field(gt=0)
    per: Literal["key", "owner", "team", "all"] = "key"


class McpConfig(ConfigModel):
    #: deny by default: a caller sees and calls only what some grant gives it
    policies: list[McpGrant] = []
    rate_limits: list[McpToolLimit] = []
    stdio_enabled: bool = False
    #: largest JSON-RPC message a client may send (bytes)
    max_message_bytes: int = Field(1 << 20, gt=0)
    #: largest JSON answer or SSE event read from an upstream (bytes)
    max_upstream_message_bytes: int = Field(16 << 20, gt=0)
    #: DNS-rebinding protection: the Host and Origin values accepted on /mcp ("*": any)
    allowed_hosts: list[str] = LOOPBACK_HOSTS
    allowed_origins: list[str] = LOOPBACK_ORIGINS
    #: signs the session ids handed to clients (binds each to its caller); random per process if unset
    session_secret: SecretStr | None = None
    #: per-user upstream credentials, encrypted (Fernet) with ``vault_key``
    vault_path: str = ""
    vault_key: SecretStr | None = None
