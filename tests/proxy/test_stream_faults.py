"""Timeouts that fit streams, client disconnects, backpressure and size limits, over real sockets."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest
from aiohttp import web
from resilience_helpers import AUTH, CHAT, post_chat, two_model_config
from support.behavior import Behavior
from support.gateway import run_gateway, settings_for


def gateway_for(tmp_path, url, **kw):
    kw.setdefault("retry", {"attempts_per_model": 1})
    return run_gateway(settings_for(two_model_config(url, **kw), ledger_path=str(tmp_path / "ledger.db")))


def data_events(body: bytes) -> list[str]:
    return [ln[5:].strip() for ln in body.decode().splitlines() if ln.startswith("data:")]


async def test_a_slow_but_healthy_stream_outlasting_the_idle_timeout_is_never_cut(fake_openai, tmp_path):
    # 12 chunks 0.1 s apart: 1.2 s in all, four times the idle timeout, never idle for 0.3 s.
    fake_openai.script(Behavior(chunks=12, chunk_delay=0.1))
    async with gateway_for(tmp_path, fake_openai.base_url, timeouts={"idle_seconds": 0.3}) as gw:
        status, _, body = await post_chat(gw.url, {**CHAT, "stream": True})
        events = data_events(body)
        assert status == 200 and events[-1] == "[DONE]"
        assert not any('"error"' in e for e in events)
        assert (await gw.ledger_rows())[0]["error"] == ""


async def test_a_stream_stalled_mid_way_is_cut_with_a_final_error_event(fake_openai, tmp_path):
    fake_openai.script(Behavior(chunks=6, stall="stream", stall_after=2))
    async with gateway_for(tmp_path, fake_openai.base_url, timeouts={"idle_seconds": 0.3}) as gw:
        status, _, body = await post_chat(gw.url, {**CHAT, "stream": True})
        last = orjson.loads(data_events(body)[-1])
        assert status == 200 and "idle timeout" in last["error"]["message"]
        await fake_openai.wait_for_disconnect()           # the upstream call was closed
        row = (await gw.ledger_rows())[0]
        assert (row["status"], row["error"]) == (504, "timeout")


async def test_a_stream_that_never_ends_is_cut_by_the_total_timeout(fake_openai, tmp_path):
    fake_openai.script(Behavior(chunks=10_000, chunk_delay=0.02))
    async with gateway_for(tmp_path, fake_openai.base_url,
                           timeouts={"idle_seconds": 5, "total_seconds": 0.5}) as gw:
        status, _, body = await post_chat(gw.url, {**CHAT, "stream": True})
        last = orjson.loads(data_events(body)[-1])
        assert "total" in last["error"]["message"]
        await fake_openai.wait_for_disconnect()


async def test_a_truncated_stream_ends_with_an_error_event(fake_openai, tmp_path):
    fake_openai.script(Behavior(chunks=6, break_after=3))
    async with gateway_for(tmp_path, fake_openai.base_url) as gw:
        _, _, body = await post_chat(gw.url, {**CHAT, "stream": True})
        assert orjson.loads(data_events(body)[-1])["error"]["type"] == "server_error"


async def test_a_malformed_event_is_never_relayed_and_ends_the_stream_with_one_error(fake_openai, tmp_path):
    # Formerly relayed as is and followed by [DONE]: a success terminator after a broken event.
    fake_openai.script(Behavior(chunks=4, malformed=True, malformed_at=2))
    async with gateway_for(tmp_path, fake_openai.base_url) as gw:
        status, _, body = await asyncio.wait_for(post_chat(gw.url, {**CHAT, "stream": True}), 5)
        events = data_events(body)
        assert status == 200 and "[DONE]" not in events and "broken" not in body.decode()
        assert [e for e in events if '"error"' in e] == events[-1:]
        assert "malformed" in orjson.loads(events[-1])["error"]["message"]
        row = (await gw.ledger_rows())[0]
        assert (row["outcome"], row["status"]) == ("malformed", 502)


@pytest.mark.parametrize("behavior", [Behavior(malformed=True), Behavior(raw="<html>oops</html>")])
async def test_a_malformed_json_body_is_a_clear_502(fake_openai, tmp_path, behavior):
    fake_openai.script(behavior)
    async with gateway_for(tmp_path, fake_openai.base_url) as gw:
        status, headers, body = await post_chat(gw.url)
        err = orjson.loads(body)["error"]
        assert status == 502 and "malformed" in err["message"] and err["type"] == "server_error"
        assert headers["x-relaygate-served-model"] == "primary"


async def test_a_response_over_max_response_bytes_is_a_clear_502(fake_openai, tmp_path):
    fake_openai.script(Behavior(text="x" * 10_000))
    async with gateway_for(tmp_path, fake_openai.base_url, server={"max_response_bytes": 4096}) as gw:
        status, _, body = await post_chat(gw.url)
        assert status == 502 and "max_response_bytes" in orjson.loads(body)["error"]["message"]


async def test_a_request_body_over_the_limit_is_413_in_the_clients_shape(fake_openai, tmp_path):
    async with gateway_for(tmp_path, fake_openai.base_url, server={"max_body_bytes": 2048}) as gw:
        big = {**CHAT, "messages": [{"role": "user", "content": "x" * 4000}]}
        status, _, body = await post_chat(gw.url, big)
        assert status == 413 and "2048" in orjson.loads(body)["error"]["message"]
        assert not fake_openai.requests


async def test_oversized_headers_are_refused(fake_openai, tmp_path):
    async with gateway_for(tmp_path, fake_openai.base_url, server={"max_field_size": 1024}) as gw:
        status, _, _ = await post_chat(gw.url, headers={"X-Big": "v" * 2000})
        assert status in (400, 431)
        status, _, _ = await post_chat(gw.url, headers={"X-Fine": "v" * 500})
        assert status == 200
        assert len(fake_openai.requests) == 1


async def test_a_client_disconnect_mid_stream_cancels_upstream_and_keeps_the_ledger_row(fake_openai, tmp_path):
    fake_openai.script(Behavior(chunks=200, chunk_delay=0.05))
    async with gateway_for(tmp_path, fake_openai.base_url) as gw:
        async with aiohttp.ClientSession() as s:
            r = await s.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH)
            await r.content.readline()
            await r.content.readline()
            assert gw.gateway.in_flight_streams["unified"] == 1
            r.close()                                            # the client goes away
        rec = await fake_openai.wait_for_disconnect(timeout=3)
        assert rec.disconnect_stage == "stream" and rec.events_sent < 200
        for _ in range(100):
            if gw.gateway.in_flight.get("unified") == 0:
                break
            await asyncio.sleep(0.02)
        assert gw.gateway.in_flight["unified"] == 0 and gw.gateway.in_flight_streams["unified"] == 0
        row = (await gw.ledger_rows())[0]
        assert row["disconnected"] == 1 and row["error"] == "client_disconnected"
        # The abandoned stream is billed for what it streamed, never for nothing.
        assert row["input_tokens"] > 0 and row["output_tokens"] >= 1
        assert row["output_tokens"] < 200


async def test_a_slow_reading_client_pauses_the_upstream_instead_of_buffering(tmp_path):
    """Backpressure: the gateway stops reading upstream while the client does not read."""
    chunk = b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": "x" * 65_000}}]}) + b"\n\n"
    total = 600                                                   # ~39 MB, far beyond socket buffers
    sent = 0

    async def stream(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(total):
            await resp.write(chunk)                               # awaits drain: blocks when nobody reads
            sent += 1
        await resp.write(b"data: [DONE]\n\n")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    try:
        async with gateway_for(tmp_path, url) as gw, aiohttp.ClientSession() as s:
            r = await s.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH)
            await r.content.readline()
            await asyncio.sleep(1.0)                              # the client does not read
            paused_at = sent
            assert paused_at < total // 2, f"upstream sent {paused_at}/{total}: the gateway is buffering"
            received = len(await r.read())                        # now read everything
            assert sent == total and received > (total - 1) * 65_000
    finally:
        await runner.cleanup()
