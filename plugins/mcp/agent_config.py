"""The MCP part of ``relaygate agent-env AGENT --mcp``: each agent's own MCP server entry.

One entry ``relaygate`` for the aggregated ``/mcp`` (tools named ``<server>__<tool>``), or
one per ``--mcp-server NAME`` at ``/mcp/NAME``. The key travels as ``Authorization: Bearer``
read from ``$RELAYGATE_API_KEY`` where the agent expands variables (Claude Code, Gemini CLI,
opencode, Codex's ``bearer_token_env_var``), so the files hold no secret. What each agent
then lists is exactly what the key's policy allows: the gateway filters ``tools/list``.
"""

from __future__ import annotations

import json
from typing import Any

KEY_ENV = "RELAYGATE_API_KEY"


def _entries(url: str, servers: list[str]) -> dict[str, str]:
    url = url.rstrip("/")
    if not servers:
        return {"relaygate": f"{url}/mcp"}
    return {f"relaygate-{name}": f"{url}/mcp/{name}" for name in servers}


def mcp_snippet(agent: str, url: str, servers: list[str]) -> tuple[str, str]:
    """(where it goes, the text) for *agent*."""
    entries = _entries(url, servers)
    if agent == "claude":
        bearer = {"Authorization": f"Bearer ${{{KEY_ENV}}}"}
        config = {"mcpServers": {name: {"type": "http", "url": u, "headers": bearer} for name, u in entries.items()}}
        return ".mcp.json (the project's MCP servers; Claude Code expands ${VAR})", json.dumps(config, indent=2)
    if agent == "codex":
        blocks = [f"[mcp_servers.{json.dumps(name)}]\nurl = {json.dumps(u)}\nbearer_token_env_var = \"{KEY_ENV}\"\n"
                  for name, u in entries.items()]
        return "${CODEX_HOME:-$HOME/.codex}/config.toml (append)", "\n".join(blocks)
    if agent == "gemini":
        config = {"mcpServers": {name: {"httpUrl": u, "headers": {"Authorization": f"Bearer ${KEY_ENV}"}}
                                 for name, u in entries.items()}}
        return "$HOME/.gemini/settings.json (merge the mcpServers key)", json.dumps(config, indent=2)
    remote: dict[str, Any] = {"mcp": {name: {"type": "remote", "url": u, "enabled": True,
                                             "headers": {"Authorization": f"Bearer {{env:{KEY_ENV}}}"}}
                                      for name, u in entries.items()}}
    return "opencode.json (merge the mcp key)", json.dumps(remote, indent=2)


def render_mcp(agent: str, url: str, servers: list[str]) -> str:
    where, text = mcp_snippet(agent, url, servers)
    return f"# MCP through Relaygate, for {where}:\n{text.rstrip()}\n"
