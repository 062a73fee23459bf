"""Tool rate limits, per-user upstream credentials and guardrails on tool arguments and results."""

from __future__ import annotations

import json

import aiohttp
import pytest
from mcp.shared.exceptions import MCPError

from plugins.mcp.vault import Vault, new_key
from support.gateway import run_gateway, settings_for
from support.mcp_server import serve

from mcp_support import ACCEPT, ALICE, BOB, mcp_client, mcp_config


@pytest.fixture
def upstream():
    with serve("streamable_http") as (url, log):
        yield url, log


async def test_tool_rate_limit_per_key(upstream, tmp_path):
    url, log = upstream
    config = mcp_config({"tools": {"url": url}},
                        rate_limits=[{"server": "tools", "tool": "ec*", "calls_per_minute": 2, "per": "key"}])
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        async with mcp_client(gw.url + "/mcp/tools", ALICE) as client:
            for i in range(2):
                assert (await client.call_tool("echo", {"text": str(i)})).content[0].text == str(i)
            with pytest.raises(MCPError, match=r"Rate limit exceeded: requests per minute limit of tool "
                                               r"tools/echo for key 'alice-key' \(2/min\)") as caught:
                await client.call_tool("echo", {"text": "third"})
            assert caught.value.error.code == -32005 and caught.value.error.data["retryAfterSeconds"] >= 1
            assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2}
        async with mcp_client(gw.url + "/mcp/tools", BOB) as client:     # bob has his own window
            assert (await client.call_tool("echo", {"text": "bob"})).content[0].text == "bob"
        assert [c for c in log.calls if c[0] == "echo"] == [("echo", "0"), ("echo", "1"), ("echo", "bob")]
        outcomes = [r["outcome"] for r in await gw.ledger_rows() if r["served_model"] == "echo"]
        assert sorted(outcomes) == ["ok", "ok", "ok", "rate_limited"]


async def test_per_user_credentials_arrive_upstream_and_never_the_gateway_key(upstream, tmp_path):
    url, log = upstream
    key = new_key()
    vault_path = str(tmp_path / "vault.json")
    Vault(vault_path, key).put("tools", "alice", "ghp_alice_own_token")
    config = mcp_config({"tools": {"url": url, "credentials": "per_user",
                                   "headers": {"X-Shared": "shared-value"}}},
                        vault_path=vault_path, vault_key=key)
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    stored = (tmp_path / "vault.json").read_text()
    assert "ghp_alice_own_token" not in stored and json.loads(stored)["tools"]["alice"].startswith("gAAAA")
    async with run_gateway(settings) as gw:
        async with mcp_client(gw.url + "/mcp/tools", ALICE) as client:
            assert (await client.call_tool("whoami", {})).content[0].text == "Bearer ghp_alice_own_token"
        async with aiohttp.ClientSession() as s, s.post(        # bob has no credential stored
                gw.url + "/mcp/tools", headers={"Authorization": f"Bearer {BOB}", "Accept": ACCEPT},
                json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}) as r:
            assert r.status == 403
            assert (await r.json())["error"]["message"].startswith("no credential of yours is stored for MCP server")
    for headers in log.headers:
        assert ALICE not in json.dumps(headers) and headers.get("x-shared") == "shared-value"


async def test_guardrails_block_arguments_and_mask_results(upstream, tmp_path):
    url, log = upstream
    config = mcp_config({"tools": {"url": url, "guardrails": [
        {"name": "no-cards", "type": "pii", "detect": ["card"], "action": "block"},
        {"name": "mask-mail", "type": "pii", "detect": ["email"], "action": "mask", "apply_to": ["output"]}]}})
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, mcp_client(gw.url + "/mcp/tools", ALICE) as client:
        with pytest.raises(MCPError, match="guardrail 'no-cards' blocked the tool call"):
            await client.call_tool("echo", {"text": "card 4111 1111 1111 1111"})
        assert (await client.call_tool("leak", {})).content[0].text == "write to [EMAIL]"
    assert [c[0] for c in log.calls] == ["leak"]


async def test_admin_api_stores_a_users_credential_encrypted(upstream, tmp_path):
    url, _ = upstream
    key = new_key()
    vault_path = tmp_path / "vault.json"
    config = mcp_config({"tools": {"url": url, "credentials": "per_user"}}, vault_path=str(vault_path), vault_key=key)
    config["admin"] = {"token": "admin-token-0123456789"}
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        admin = gw.url + "/admin/v1/mcp/credentials/tools/alice"
        async with aiohttp.ClientSession() as s:
            async with s.put(admin, json={"credential": "ghp_from_admin"},
                             headers={"Authorization": f"Bearer {ALICE}"}) as r:
                assert r.status == 401                                   # a gateway key is not the admin token
            async with s.put(admin, json={"credential": "ghp_from_admin"},
                             headers={"Authorization": "Bearer admin-token-0123456789"}) as r:
                assert r.status == 204
        assert "ghp_from_admin" not in vault_path.read_text()
        async with mcp_client(gw.url + "/mcp/tools", ALICE) as client:
            assert (await client.call_tool("whoami", {})).content[0].text == "Bearer ghp_from_admin"
