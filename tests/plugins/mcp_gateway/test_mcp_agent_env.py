"""The README's worked example: two servers, a team allowed three tools, Claude Code set up by
``relaygate agent-env claude --part mcp``; that entry, used as Claude Code reads it, lists exactly those."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.gateway import run_gateway, settings_for
from support.mcp_server import serve

KEY = "rg-platform-key-0123456789"


def agent_env(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "proxy", "agent-env", *args], check=True, capture_output=True,
                          text=True, env={**os.environ, "RELAYGATE_API_KEY": ""}).stdout


def _body(output: str) -> str:
    return "".join(line for line in output.splitlines(keepends=True) if not line.startswith("#"))


@pytest.fixture
def worked_example(tmp_path):
    with serve("streamable_http", "github") as (github, _), serve("sse", "tickets") as (tickets, _):
        config = {
            "keys": [{"name": "platform-laptop", "key": KEY, "owner": "dana", "team": "platform"}],
            "mcp_servers": {"github": {"url": github}, "tickets": {"url": tickets, "transport": "sse"}},
            "mcp": {"policies": [{"teams": ["platform"], "servers": {
                "github": {"tools": ["echo", "add"]}, "tickets": {"tools": ["whoami"]}}}]},
        }
        yield settings_for(config, ledger_path=str(tmp_path / "l.db"))


async def test_claude_code_entry_lists_exactly_the_teams_three_tools(worked_example):
    async with run_gateway(worked_example) as gw:
        entry = json.loads(_body(agent_env("claude", "--part", "mcp", "--url", gw.url)))["mcpServers"]["relaygate"]
        assert entry["type"] == "http" and entry["url"] == gw.url + "/mcp"
        headers = {k: v.replace("${RELAYGATE_API_KEY}", KEY) for k, v in entry["headers"].items()}
        async with httpx2.AsyncClient(headers=headers) as http, \
                Client(streamable_http_client(entry["url"], http_client=http), mode="legacy") as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
        assert tools == ["github__add", "github__echo", "tickets__whoami"]


def test_every_agent_gets_an_mcp_entry_without_the_secret():
    url = "http://127.0.0.1:8080"
    codex = tomllib.loads(_body(agent_env("codex", "--part", "mcp", "--url", url, "--mcp-server", "github")))
    assert codex["mcp_servers"]["relaygate-github"] == {"url": url + "/mcp/github",
                                                        "bearer_token_env_var": "RELAYGATE_API_KEY"}
    gemini = json.loads(_body(agent_env("gemini", "--part", "mcp", "--url", url)))["mcpServers"]["relaygate"]
    assert gemini == {"httpUrl": url + "/mcp", "headers": {"Authorization": "Bearer $RELAYGATE_API_KEY"}}
    opencode = json.loads(_body(agent_env("opencode", "--part", "mcp", "--url", url)))["mcp"]["relaygate"]
    assert opencode["type"] == "remote" and opencode["headers"]["Authorization"] == "Bearer {env:RELAYGATE_API_KEY}"
    full = agent_env("claude", "--key", "rg-secret-in-env-only", "--mcp", "--url", url)
    assert full.count("rg-secret-in-env-only") == 1            # the export line; never in the MCP entry
