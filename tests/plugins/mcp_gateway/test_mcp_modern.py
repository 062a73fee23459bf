"""The SDK client's default mode (it probes ``server/discover`` and may speak 2026-07-28) works too."""

from __future__ import annotations

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.gateway import run_gateway, settings_for
from support.mcp_server import serve

from mcp_support import ALICE, mcp_config


async def test_default_client_mode_through_relay_and_aggregate(tmp_path):
    with serve("streamable_http") as (url, log):
        settings = settings_for(mcp_config({"tools": {"url": url}}), ledger_path=str(tmp_path / "l.db"))
        async with run_gateway(settings) as gw:
            for path, tool in (("/mcp/tools", "add"), ("/mcp", "tools__add")):
                async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {ALICE}"}) as http, \
                        Client(streamable_http_client(gw.url + path, http_client=http)) as client:
                    names = sorted(t.name for t in (await client.list_tools()).tools)
                    assert tool in names and not any(n.endswith("delete_repo") for n in names)
                    assert (await client.call_tool(tool, {"a": 2, "b": 2})).structured_content == {"result": 4}
    assert log.calls.count(("add", (2, 2))) == 2
