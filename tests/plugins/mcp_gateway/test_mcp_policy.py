"""The policy function, table-driven, and the config checks around it (pure: no server)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from plugins.mcp.config import McpConfig, McpServerConfig
from plugins.mcp.filtering import filter_list
from plugins.mcp.policy import Caller, may_reach, permits
from plugins.mcp.sessions import SessionIds
from proxy.cli import main
from proxy.context import Principal

CONFIG = McpConfig(policies=[
    {"teams": ["platform"], "servers": {"github": {"tools": ["search_*", "get_issue"], "resources": ["repo://*"]}}},
    {"groups": ["sre-*"], "servers": {"*": {"tools": ["status"]}}},
    {"keys": ["ci-*"], "owners": ["robot"], "servers": {"ci": {"tools": ["*"], "prompts": ["release"]}}},
])


@dataclass(frozen=True)
class SsoPrincipal(Principal):
    """What an SSO principal with groups looks like to the MCP policy (another branch adds it)."""

    groups: tuple[str, ...] = ()


@pytest.mark.parametrize(("principal", "server", "kind", "name", "allowed"), [
    (Principal("k1", team="platform"), "github", "tools", "search_code", True),
    (Principal("k1", team="platform"), "github", "tools", "get_issue", True),
    (Principal("k1", team="platform"), "github", "tools", "delete_repo", False),
    (Principal("k1", team="platform"), "github", "prompts", "get_issue", False),    # a kind is its own list
    (Principal("k1", team="platform"), "github", "resources", "repo://a/b", True),
    (Principal("k1", team="platform"), "github", "resources", "file:///etc/passwd", False),
    (Principal("k1", team="platform"), "jira", "tools", "search_code", False),      # another server
    (Principal("k1", team="platform-ops"), "github", "tools", "search_code", False),  # names match whole
    (SsoPrincipal("k2", groups=("sre-oncall",)), "anything", "tools", "status", True),
    (SsoPrincipal("k2", groups=("dev",)), "anything", "tools", "status", False),
    (Principal("key_3f2a", key_name="ci-linux"), "ci", "tools", "deploy", True),   # by key name
    (Principal("ci-mac"), "ci", "prompts", "release", True),                        # by key id
    (Principal("k3", owner="robot"), "ci", "tools", "x", True),
    (Principal("k4"), "ci", "tools", "x", False),                                   # no grant: deny
])
def test_permits(principal, server, kind, name, allowed):
    assert permits(CONFIG, Caller.of(principal), server, kind, name) is allowed


def test_a_list_keeps_exactly_what_a_call_may_use():
    caller = Caller.of(Principal("k1", team="platform"))
    tools = [{"name": n, "inputSchema": {}} for n in ("search_code", "get_issue", "delete_repo", "search_prs")]
    kept = filter_list("tools/list", {"tools": tools}, lambda k, n: permits(CONFIG, caller, "github", k, n), True)
    assert [t["name"] for t in kept["tools"]] == [t["name"] for t in tools
                                                  if permits(CONFIG, caller, "github", "tools", t["name"])]
    assert may_reach(CONFIG, caller, "github") and not may_reach(CONFIG, caller, "jira")


def test_session_ids_are_bound_to_server_and_caller():
    ids = SessionIds(b"secret")
    sid = ids.wrap("github", "k1", "upstream-1")
    assert ids.unwrap("github", "k1", sid) == "upstream-1"
    assert ids.unwrap("github", "k2", sid) is None and ids.unwrap("ci", "k1", sid) is None
    assert SessionIds(b"other").unwrap("github", "k1", sid) is None


def test_server_config_refuses_what_would_let_requests_choose_a_target():
    with pytest.raises(ValidationError, match="http"):
        McpServerConfig(url="file:///etc/passwd")
    with pytest.raises(ValidationError, match="needs 'command'"):
        McpServerConfig(transport="stdio")
    with pytest.raises(ValidationError, match="'command' is only for transport: stdio"):
        McpServerConfig(url="http://127.0.0.1:1/mcp", command=["sh"])
    with pytest.raises(ValidationError, match="at least one of"):
        McpConfig(policies=[{"servers": {"*": {"tools": ["*"]}}}])


def test_check_config_warns_about_stdio_off_and_no_grants(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("mcp_servers:\n  files: {transport: stdio, command: [cat]}\n")
    assert main(["check-config", str(path)]) == 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert "mcp_servers.files: a stdio server, and mcp.stdio_enabled is false" in text
    assert "mcp.policies grants nothing" in text
