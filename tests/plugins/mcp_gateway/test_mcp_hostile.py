"""Hostile input: commands and URLs in requests, oversized and malformed JSON-RPC, mixed batches,
DNS rebinding, and a session id used under another key. Nothing of it reaches the upstream."""

from __future__ import annotations

import aiohttp
import pytest

from support.gateway import run_gateway, settings_for
from support.mcp_server import serve

from mcp_support import ACCEPT, ALICE, BOB, mcp_config


@pytest.fixture
def upstream():
    with serve("streamable_http") as (url, log):
        yield url, log


def _headers(key: str = ALICE, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": ACCEPT, "Content-Type": "application/json", **extra}


async def _post(s: aiohttp.ClientSession, url: str, body: bytes | str, **headers: str) -> tuple[int, dict]:
    async with s.post(url, data=body, headers=_headers(**headers)) as r:
        return r.status, await r.json(content_type=None)


async def test_hostile_messages_are_refused_before_the_upstream(upstream, tmp_path):
    url, log = upstream
    config = mcp_config({"tools": {"url": url}, "local": {"transport": "stdio", "command": ["cat"]}},
                        max_message_bytes=4096)
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as s:
        base = gw.url + "/mcp/tools"
        # a stdio server from config is off unless enabled; a command in a request is never read
        status, body = await _post(s, gw.url + "/mcp/local", '{"jsonrpc":"2.0","id":1,"method":"initialize"}')
        assert status == 404 and "no MCP server named 'local'" in body["error"]["message"]
        status, body = await _post(s, base, '{"jsonrpc":"2.0","id":1,"method":"servers/add",'
                                            '"params":{"command":["sh","-c","touch /tmp/pwned"]}}')
        assert status == 200 and body["error"]["code"] == -32601
        # a server URL in a request changes nothing: the path names a configured server or nothing
        status, body = await _post(s, gw.url + "/mcp/http%3A%2F%2F127.0.0.1%3A1%2Fmcp", '{}')
        assert status == 404
        # oversized and malformed JSON-RPC
        status, body = await _post(s, base, '{"jsonrpc":"2.0","id":3,"method":"ping","params":{"p":"' + "x" * 5000
                                   + '"}}')
        assert status == 413 and "mcp.max_message_bytes" in body["error"]["message"]
        status, body = await _post(s, base, '{"jsonrpc":"2.0","id":4,"method":')
        assert status == 400 and body["error"]["code"] == -32700
        status, body = await _post(s, base, '{"jsonrpc":"1.0","id":5,"method":"ping"}')
        assert status == 400 and body["error"]["code"] == -32600 and body["id"] == 5
        status, body = await _post(s, base, '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":7}}')
        assert status == 200 and body["error"]["code"] == -32602 and body["id"] == 6
        # a batch mixing an allowed and a denied call runs neither
        status, body = await _post(s, base, '[{"jsonrpc":"2.0","id":7,"method":"tools/call","params":'
                                            '{"name":"echo","arguments":{"text":"ok"}}},{"jsonrpc":"2.0","id":8,'
                                            '"method":"tools/call","params":{"name":"delete_repo",'
                                            '"arguments":{"repo":"prod"}}}]')
        assert status == 400 and "batches are not accepted" in body["error"]["message"]
        # DNS rebinding: a foreign Host or Origin is refused before authentication
        ping = '{"jsonrpc":"2.0","id":9,"method":"ping"}'
        status, body = await _post(s, base, ping, Host="evil.example:80")
        assert status == 421 and "Host" in body["error"]["message"]
        status, body = await _post(s, base, ping, Origin="http://evil.example")
        assert status == 403 and "Origin" in body["error"]["message"]
    assert log.calls == []


async def test_a_session_id_is_useless_under_another_key(upstream, tmp_path):
    url, log = upstream
    settings = settings_for(mcp_config({"tools": {"url": url}}), ledger_path=str(tmp_path / "l.db"))
    init = ('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
            '"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}')
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as s:
        base = gw.url + "/mcp/tools"
        async with s.post(base, data=init, headers=_headers()) as r:
            assert r.status == 200
            sid = r.headers["mcp-session-id"]
            await r.read()
        call = '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}'
        forged = sid[:-1] + ("1" if sid.endswith("0") else "0")          # one hex digit of the tag changed
        for key, presented in ((BOB, sid), (ALICE, sid.rsplit(".", 1)[0]), (ALICE, forged)):
            async with s.post(base, data=call, headers=_headers(key, **{"mcp-session-id": presented})) as r:
                assert r.status == 404 and (await r.json())["error"]["message"] == "Session not found"
    assert log.calls == []
