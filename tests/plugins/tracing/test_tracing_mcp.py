"""An MCP tool call through the gateway is a child span of the request's server span."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_asyncio
from mcp.shared.exceptions import MCPError
from otlp_receiver import OtlpReceiver
from support.mcp_server import serve
from tracing_support import clean_otel_env, traced_gateway

sys.path.insert(0, str(Path(__file__).parents[1] / "mcp_gateway"))
from mcp_support import ALICE, mcp_client, mcp_config


@pytest_asyncio.fixture
async def receiver(monkeypatch):
    clean_otel_env(monkeypatch)
    r = await OtlpReceiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def test_a_tool_call_is_a_span_under_the_request(receiver, tmp_path):
    with serve("streamable_http") as (url, _):
        async with traced_gateway(tmp_path, mcp_config({"tools": {"url": url}}), {"endpoint": receiver.url}) as gw:
            async with mcp_client(gw.url + "/mcp/tools", ALICE) as client:
                await client.call_tool("add", {"a": 1, "b": 2})
                with pytest.raises(MCPError):
                    await client.call_tool("delete_repo", {"repo": "x"})
    [ok] = receiver.named("tools/call add")
    [denied] = receiver.named("tools/call delete_repo")
    assert ok.attributes["mcp.server"] == "tools" and ok.attributes["relaygate.mcp.outcome"] == "ok"
    assert ok.attributes["relaygate.key_id"] == "alice-key" and ok.attributes["relaygate.mcp.response_bytes"] > 0
    assert denied.attributes["relaygate.mcp.outcome"] == "denied" and denied.status == "error"
    parent = next(s for s in receiver.servers() if s.span_id == ok.parent_span_id)
    assert parent.attributes["http.route"] == "/mcp/{server}"
