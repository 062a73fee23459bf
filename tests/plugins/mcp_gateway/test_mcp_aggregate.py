"""The aggregated /mcp (namespaced names) and an HTTP+SSE upstream, through the SDK's client."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from support.gateway import run_gateway, settings_for
from support.mcp_server import serve

from mcp_support import ALICE, BOB, mcp_client, mcp_config


@pytest.fixture
def two_servers():
    with serve("streamable_http", "tools") as (http_url, http_log), serve("sse", "legacy") as (sse_url, sse_log):
        yield {"tools": {"url": http_url}, "legacy": {"url": sse_url, "transport": "sse"}}, http_log, sse_log


async def test_aggregate_namespaces_each_servers_allowed_tools(two_servers, tmp_path):
    servers, http_log, sse_log = two_servers
    settings = settings_for(mcp_config(servers), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        async with mcp_client(gw.url + "/mcp", ALICE) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            assert names == sorted(f"{s}__{t}" for s in ("tools", "legacy") for t in ("add", "echo", "leak", "whoami"))
            result = await client.call_tool("legacy__echo", {"text": "over sse"})
            assert result.content[0].text == "over sse"
            assert (await client.call_tool("tools__add", {"a": 1, "b": 2})).structured_content == {"result": 3}
            with pytest.raises(MCPError, match="Unknown tool: legacy__delete_repo"):
                await client.call_tool("legacy__delete_repo", {"repo": "x"})
            with pytest.raises(MCPError, match="Unknown tool: nosuch__echo"):
                await client.call_tool("nosuch__echo", {"text": "x"})
            assert sorted(p.name for p in (await client.list_prompts()).prompts) == ["legacy__review", "tools__review"]
            assert (await client.read_resource("docs://readme")).contents[0].text == "the readme"
        async with mcp_client(gw.url + "/mcp", BOB) as client:      # bob's grant names only the "tools" server
            assert [t.name for t in (await client.list_tools()).tools] == ["tools__echo"]
        assert sse_log.calls == [("echo", "over sse")]
        assert http_log.calls == [("add", (1, 2))]
        rows = {(r["provider"], r["served_model"], r["outcome"]) for r in await gw.ledger_rows()}
        assert rows == {("legacy", "echo", "ok"), ("tools", "add", "ok"), ("legacy", "delete_repo", "denied")}


async def test_sse_upstream_at_its_own_path(two_servers, tmp_path):
    servers, _, sse_log = two_servers
    settings = settings_for(mcp_config(servers), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, mcp_client(gw.url + "/mcp/legacy", ALICE) as client:
        assert sorted(t.name for t in (await client.list_tools()).tools) == ["add", "echo", "leak", "whoami"]
        assert (await client.call_tool("echo", {"text": "hi"})).content[0].text == "hi"
        with pytest.raises(MCPError, match="Unknown tool: delete_repo"):
            await client.call_tool("delete_repo", {"repo": "x"})
    assert sse_log.calls == [("echo", "hi")]
