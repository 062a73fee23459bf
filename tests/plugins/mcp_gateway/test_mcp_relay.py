"""/mcp/{server} over streamable HTTP: the SDK client, through the gateway, to a real SDK server."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from support.gateway import metric_value, run_gateway, settings_for
from support.mcp_server import serve

from mcp_support import ALICE, BOB, EVE, mcp_client, mcp_config


@pytest.fixture
def upstream():
    with serve("streamable_http") as (url, log):
        yield url, log


async def test_listing_follows_the_policy_and_calls_follow_the_listing(upstream, tmp_path):
    url, log = upstream
    settings = settings_for(mcp_config({"tools": {"url": url}}), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        async with mcp_client(gw.url + "/mcp/tools", ALICE) as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            assert tools == ["add", "echo", "leak", "whoami"]
            assert (await client.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
            with pytest.raises(MCPError, match="Unknown tool: delete_repo"):
                await client.call_tool("delete_repo", {"repo": "prod"})
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            assert prompts == ["review"]
            assert "Please review" in str((await client.get_prompt("review", {"code": "x=1"})).messages[0])
            resources = [str(r.uri) for r in (await client.list_resources()).resources]
            assert resources == ["docs://readme"]
            assert (await client.read_resource("docs://readme")).contents[0].text == "the readme"
            with pytest.raises(MCPError, match="Resource not found"):
                await client.read_resource("secret://plans")
        async with mcp_client(gw.url + "/mcp/tools", BOB) as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["echo"]
            assert [p.name for p in (await client.list_prompts()).prompts] == []
            with pytest.raises(MCPError, match="Unknown tool: add"):
                await client.call_tool("add", {"a": 1, "b": 1})
            with pytest.raises(MCPError, match="Unknown prompt"):
                await client.get_prompt("review", {"code": "x"})
        assert ("delete_repo", "prod") not in log.calls and ("add", (1, 1)) not in log.calls
        rows = [r for r in await gw.ledger_rows() if r["surface"] == "mcp"]
        outcomes = sorted((r["owner"], r["served_model"], r["outcome"]) for r in rows)
        assert outcomes == [("alice", "add", "ok"), ("alice", "delete_repo", "denied"), ("bob", "add", "denied")]
        ok = next(r for r in rows if r["outcome"] == "ok")
        assert ok["endpoint"] == "mcp/tools" and ok["provider"] == "tools" and ok["status"] == 200
        assert '"request_bytes":"' in ok["labels"] and ok["latency_ms"] > 0
        metrics = await gw.metrics()
        assert metric_value(metrics, "relaygate_mcp_tool_calls_total", server="tools", tool="add", outcome="ok") == 1
        assert metric_value(metrics, "relaygate_mcp_tool_calls_total", server="tools", outcome="denied") == 2


async def test_a_key_without_a_grant_does_not_learn_the_server_exists(upstream, tmp_path):
    url, _ = upstream
    settings = settings_for(mcp_config({"tools": {"url": url}}), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        import aiohttp
        async with aiohttp.ClientSession() as s:
            body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
            for path in ("/mcp/tools", "/mcp/nonexistent"):
                async with s.post(gw.url + path, json=body, headers={"Authorization": f"Bearer {EVE}"}) as r:
                    assert r.status == 404
                    assert (await r.json())["error"]["message"] == \
                        f"no MCP server named {path.rsplit('/', 1)[1]!r} is available to this key"
            async with s.post(gw.url + "/mcp/tools", json=body) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == -32600
