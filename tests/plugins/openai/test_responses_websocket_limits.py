"""WebSocket mode's edges: credentials on the upgrade, bad messages as ``error`` events, key
scopes and metrics per turn, the idle timeout, the message size limit, the connection age
limit, a client leaving mid-response, and closing on shutdown. Raw frames go through aiohttp's
WebSocket client (the SDK hides close codes); well-formed turns through the ``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from responses_compliance_support import config
from responses_ws_support import connect, ws_url
from support.behavior import Behavior
from support.fake_anthropic import FakeAnthropic
from support.gateway import TEST_KEY, RunningGateway, metric_value, run_gateway, settings_for
from support.open_responses import validate_ws_error

from proxy import serve as serve_module

OTHER_KEY = "rg-other-key-9876543210"
MODEL = "anthropic/claude-sonnet-4-6"


@asynccontextmanager
async def gateway(tmp_path: Path, **websocket: Any) -> AsyncIterator[tuple[RunningGateway, FakeAnthropic]]:
    fake = await FakeAnthropic().start()
    data = config({"anthropic": fake})
    data["keys"].append({"name": "scoped", "key": OTHER_KEY, "owner": "bob", "endpoints": ["nothing-here"]})
    data["responses"] = {"websocket": websocket}
    try:
        async with run_gateway(settings_for(data, ledger_path=str(tmp_path / "ledger.db"))) as gw:
            yield gw, fake
    finally:
        await fake.stop()


async def raw_socket(session: aiohttp.ClientSession, gw: RunningGateway, key: str = TEST_KEY,
                     prefix: str = "/openai/v1") -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(ws_url(gw.url + prefix), headers={"Authorization": f"Bearer {key}"})


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def test_the_upgrade_needs_a_valid_key_and_a_get_without_upgrade_is_405(tmp_path):
    async with gateway(tmp_path) as (gw, _), aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await raw_socket(s, gw, key="wrong-key")
        assert info.value.status == 401
        async with s.get(gw.url + "/v1/responses", headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
            assert r.status == 405 and "POST" in r.headers["Allow"]
            assert "WebSocket" in (await r.json())["error"]["message"]


@pytest.mark.parametrize(("message", "param", "words"), [
    ("not json", None, "not valid JSON"),
    ('["response.create"]', None, "JSON object"),
    ('{"type": "response.steer", "input": "x"}', "type", "response.steer"),
    (json.dumps({"type": "response.create", "model": MODEL, "input": "x", "background": True}), "background",
     "background"),
    (json.dumps({"type": "response.create", "input": "x"}), "model", "model"),
    (json.dumps({"type": "response.create", "model": MODEL, "input": "x", "temperature": 9}), "temperature",
     "temperature"),
])
async def test_bad_messages_get_an_error_event_and_the_socket_stays_open(tmp_path, message, param, words):
    async with gateway(tmp_path) as (gw, fake), aiohttp.ClientSession() as s:
        ws = await raw_socket(s, gw)
        await ws.send_str(message)
        error = validate_ws_error(await next_json(ws))
        assert error["status"] == 400 and error["error"].get("param") == param and words in error["error"]["message"]
        await ws.send_str(json.dumps({"type": "response.create", "model": MODEL, "input": "hi",
                                      "stream": True, "stream_options": {"include_obfuscation": False}}))
        frames = [await next_json(ws)]
        while frames[-1]["type"] != "response.completed":
            frames.append(await next_json(ws))
        await ws.close()
        assert len(fake.requests) == 1                       # only the good turn reached the provider


async def test_each_turn_is_a_request_scopes_and_metrics_apply(tmp_path):
    async with gateway(tmp_path) as (gw, _):
        async with connect(gw.url + "/v1", key=OTHER_KEY) as ws:       # valid key, but not for this model
            refused = await ws.create(model=MODEL, input="hi")
        assert refused.error["status"] == 403 and refused.error["error"]["param"] == "model"
        async with connect(gw.url + "/v1") as ws:
            for _ in range(3):
                assert (await ws.create(model=MODEL, input="hi", store=False)).response["status"] == "completed"
        text = await gw.metrics()
        assert metric_value(text, "relaygate_requests_total", surface="unified", status="200") == 3
        assert metric_value(text, "relaygate_requests_total", surface="unified", status="403") == 1
        rows = await gw.ledger_rows()
        assert len(rows) == 3 and {r["owner"] for r in rows} == {"alice"}


async def test_idle_socket_closes_and_an_oversized_message_closes_with_1009(tmp_path):
    async with gateway(tmp_path, idle_timeout_seconds=0.3, max_message_bytes=2048) as (gw, _), \
            aiohttp.ClientSession() as s:
        ws = await raw_socket(s, gw)
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000 and msg.extra == "idle timeout"
        ws = await raw_socket(s, gw)
        await ws.send_str(json.dumps({"type": "response.create", "model": MODEL, "input": "x" * 4096}))
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_connection_age_limit_is_an_error_event_then_close(tmp_path):
    async with gateway(tmp_path, max_connection_seconds=0.2) as (gw, fake), aiohttp.ClientSession() as s:
        ws = await raw_socket(s, gw)
        await asyncio.sleep(0.3)
        await ws.send_str(json.dumps({"type": "response.create", "model": MODEL, "input": "hi"}))
        error = validate_ws_error(await next_json(ws))
        assert error["error"]["code"] == "websocket_connection_limit_reached"
        assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
        assert not fake.requests


async def test_a_client_leaving_mid_response_is_metered_and_the_stream_closed(tmp_path):
    async with gateway(tmp_path) as (gw, fake), aiohttp.ClientSession() as s:
        fake.script(Behavior(text="a long answer " * 20, chunks=20, chunk_delay=0.1))
        ws = await raw_socket(s, gw)
        await ws.send_str(json.dumps({"type": "response.create", "model": MODEL, "input": "hi"}))
        while (await next_json(ws))["type"] != "response.output_text.delta":
            pass
        await ws.close()
        for _ in range(50):
            rows = await gw.ledger_rows()
            if rows:
                break
            await asyncio.sleep(0.1)
        assert len(rows) == 1 and rows[0]["disconnected"] and rows[0]["outcome"] == "client_cancelled"


async def test_shutdown_closes_idle_sockets_with_1001(tmp_path):
    async with gateway(tmp_path) as (gw, _), aiohttp.ClientSession() as s:
        ws = await raw_socket(s, gw)
        async with connect(gw.url + "/openai/v1") as sdk:
            assert (await sdk.create(model=MODEL, input="hi")).response["status"] == "completed"
            gw.gateway.draining = True                    # what `relaygate serve` sets on SIGTERM
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
            with pytest.raises(websockets.exceptions.ConnectionClosedOK) as info:    # the SDK's socket too
                await asyncio.wait_for(sdk.conn.recv_bytes(), 5)
            assert info.value.rcvd.code == 1001
        assert serve_module.in_flight(gw.gateway) == 0


async def test_shutdown_lets_a_busy_socket_finish_its_response_then_closes_it(tmp_path):
    async with gateway(tmp_path) as (gw, fake), aiohttp.ClientSession() as s:
        fake.script(Behavior(text="slow " * 10, chunks=10, chunk_delay=0.1))
        ws = await raw_socket(s, gw)
        await ws.send_str(json.dumps({"type": "response.create", "model": MODEL, "input": "hi"}))
        assert (await next_json(ws))["type"] == "response.created"
        gw.gateway.draining = True
        frames = [await next_json(ws)]
        while frames[-1]["type"] != "response.completed":
            frames.append(await next_json(ws))
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_a_warm_up_is_answered_without_a_provider_call_and_can_be_continued(tmp_path):
    async with gateway(tmp_path) as (gw, fake):
        async with connect(gw.url + "/openai/v1") as ws:
            warm = await ws.create(model=MODEL, store=False, input="You are terse.", generate=False)
            assert warm.response["status"] == "completed" and warm.response["output"] == []
            assert warm.response["usage"]["total_tokens"] == 0 and not fake.requests
            turn = await ws.create(model=MODEL, store=False, previous_response_id=warm.response["id"],
                                   input="Say hi.")
            assert turn.response["status"] == "completed"
        async with connect(gw.url + "/openai/v1", key=OTHER_KEY) as ws:   # still checked like a request
            refused = await ws.create(model=MODEL, input="x", generate=False)
            assert refused.error["status"] == 403
        sent = json.dumps(fake.last.body)
        assert "You are terse." in sent and "Say hi." in sent and "generate" not in sent
        assert len(await gw.ledger_rows()) == 1                      # the warm-up has no ledger row
