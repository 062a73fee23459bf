"""What a client connection may cost: a header deadline, a body deadline, a size checked before reading,
and a request id on every answer (the router's own 404/405 and aiohttp's protocol errors included)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest
import pytest_asyncio
from resilience_helpers import AUTH, CHAT
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

SERVER = {"header_timeout_seconds": 0.5, "body_timeout_seconds": 0.5, "max_body_bytes": 4096}


@pytest_asyncio.fixture
async def gw(fake_openai, tmp_path):
    cfg = {**openai_config(fake_openai.base_url), "server": SERVER}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as running:
        yield running


async def read_response(reader: asyncio.StreamReader, timeout: float = 3.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from a raw socket: (status, lower-cased headers, body); status 0 on EOF."""
    async with asyncio.timeout(timeout):
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            return 0, {}, b""
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split()[1]), headers, body


async def open_raw(gw):
    return await asyncio.open_connection("127.0.0.1", gw.port)


def request_head(body_length: int, path: str = "/v1/chat/completions", extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {TEST_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {body_length}\r\n{extra}\r\n").encode()


async def test_drip_fed_headers_are_cut_at_the_header_deadline(gw, fake_openai):
    reader, writer = await open_raw(gw)
    started = time.monotonic()
    answer = asyncio.create_task(read_response(reader))
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n")
    while not answer.done() and time.monotonic() - started < 4:   # a header byte every 0.1 s: never complete
        await asyncio.sleep(0.1)
        writer.write(b"X")
    status, headers, _ = await answer
    assert status == 408 and time.monotonic() - started < 2.0
    assert headers["x-request-id"].startswith("req_") and headers["connection"] == "close"
    assert await reader.read() == b""                  # and closed
    writer.close()
    assert not fake_openai.requests


async def test_a_silent_connection_is_cut_at_the_header_deadline(gw):
    reader, writer = await open_raw(gw)
    started = time.monotonic()
    status, _, _ = await read_response(reader)
    assert status == 408 and time.monotonic() - started < 2.0
    writer.close()


async def test_an_idle_keep_alive_connection_outlives_the_header_deadline(gw, fake_openai):
    reader, writer = await open_raw(gw)
    body = orjson.dumps(CHAT)
    for _ in range(2):
        writer.write(request_head(len(body)) + body)
        status, headers, _ = await read_response(reader)
        assert status == 200 and headers["x-request-id"]
        await asyncio.sleep(0.8)                   # idle longer than the header deadline: still open
    writer.close()
    assert len(fake_openai.requests) == 2


async def test_a_slow_body_gets_408_in_the_surfaces_shape(gw, fake_openai):
    reader, writer = await open_raw(gw)
    writer.write(request_head(200))
    writer.write(b'{"model": "chat", ')              # and then nothing more
    status, headers, body = await read_response(reader)
    assert status == 408 and headers["x-request-id"].startswith("req_")
    err = orjson.loads(body)["error"]
    assert "body_timeout_seconds" in err["message"]
    writer.close()
    assert not fake_openai.requests


@pytest.mark.parametrize("path, shape", [("/v1/chat/completions", "openai"), ("/anthropic/v1/messages", "anthropic"),
                                         ("/gemini/v1beta/models/chat:generateContent", "gemini")])
async def test_a_content_length_above_the_limit_gets_413_before_the_body_is_read(gw, fake_openai, path, shape):
    reader, writer = await open_raw(gw)
    writer.write(request_head(10 * 1024 * 1024 * 1024, path, extra=f"x-api-key: {TEST_KEY}\r\n"))  # no body sent
    status, headers, body = await read_response(reader, timeout=1.0)
    assert status == 413 and headers["x-request-id"].startswith("req_")
    data = orjson.loads(body)
    if shape == "anthropic":
        assert data["type"] == "error" and data["error"]["type"] == "request_too_large"
    elif shape == "gemini":
        assert data["error"]["code"] == 413
    else:
        assert "max_body_bytes" in data["error"]["message"]
    writer.close()
    assert not fake_openai.requests


async def test_router_404_and_405_carry_a_request_id_and_the_surfaces_error_shape(gw):
    async with aiohttp.ClientSession() as s:
        async with s.get(gw.url + "/v1/chat/completions", headers=AUTH) as r:      # only POST is routed
            assert r.status == 405 and r.headers["x-request-id"].startswith("req_")
            assert "POST" in r.headers["Allow"]
            err = (await r.json())["error"]
            assert err["type"] == "invalid_request_error" and "GET" in err["message"]
        async with s.post(gw.url + "/v1/nothing-here", headers=AUTH, json={}) as r:
            assert r.status == 404 and r.headers["x-request-id"].startswith("req_")
            assert (await r.json())["error"]["type"] == "not_found_error"
        async with s.get(gw.url + "/gemini/v1beta/nothing", headers=AUTH) as r:
            assert r.status == 404 and r.headers["x-request-id"]
            assert (await r.json())["error"]["status"] == "NOT_FOUND"
        async with s.get(gw.url + "/nowhere") as r:                                   # no surface: plain 404
            assert r.status == 404 and r.headers["x-request-id"].startswith("req_")
        async with s.get(gw.url + "/healthz") as r:
            assert r.headers["x-request-id"].startswith("req_")


async def test_body_parse_errors_and_protocol_errors_carry_a_request_id(gw):
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.url + "/v1/chat/completions", headers=AUTH, data=b"{not json") as r:
            assert r.status == 400 and r.headers["x-request-id"].startswith("req_")
    reader, writer = await open_raw(gw)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Long: " + b"a" * 10000 + b"\r\n\r\n")   # > max_field_size
    status, headers, _ = await read_response(reader)
    assert status == 400 and headers["x-request-id"].startswith("req_")
    writer.close()
