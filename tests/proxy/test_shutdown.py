"""Graceful shutdown of a real `relaygate serve` process: SIGTERM during 50 open streams."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
from resilience_helpers import AUTH, CHAT
from serve_helpers import Server, free_port, ledger_rows, write_config
from support.behavior import Behavior


async def test_sigterm_drains_50_open_streams_then_flushes_the_ledger_and_exits_0(fake_openai, tmp_path):
    fake_openai.always(Behavior(chunks=20, chunk_delay=0.1, text="x" * 40))     # ~2 s per stream
    port, ledger = free_port(), tmp_path / "ledger.db"
    write_config(tmp_path / "c.yaml", fake_openai.base_url, port, ledger, server={"drain_delay_seconds": 1.0})
    server = await Server(tmp_path / "c.yaml", port).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            async def stream() -> bytes:
                async with s.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                                  headers=AUTH) as r:
                    assert r.status == 200
                    return await r.read()

            tasks = [asyncio.create_task(stream()) for _ in range(50)]
            await fake_openai.wait_for_requests(50, timeout=20)
            server.signal(signal.SIGTERM)
            ready = []
            for _ in range(20):                                    # within drain_delay_seconds
                async with s.get(server.url + "/readyz") as r:     # still listening, but not ready
                    ready.append(r.status)
                if r.status == 503:
                    break
                await asyncio.sleep(0.02)
            assert ready[-1] == 503
            bodies = await asyncio.gather(*tasks)
            assert all(b.rstrip().endswith(b"data: [DONE]") for b in bodies)
            assert await _refused(s, server.url)                   # the listener closed after the delay
        assert await server.wait() == 0
        rows = ledger_rows(ledger)
        assert len(rows) == 50, await server.output()
        assert all(r["status"] == 200 and r["disconnected"] == 0 for r in rows)
    finally:
        await server.stop()


async def _refused(s: aiohttp.ClientSession, url: str) -> bool:
    for _ in range(100):
        try:
            async with aiohttp.ClientSession() as fresh, fresh.get(url + "/healthz") as r:
                await r.read()
        except aiohttp.ClientConnectionError:
            return True
        await asyncio.sleep(0.05)
    return False


LONG = Behavior(chunks=400, chunk_delay=0.05, text="y" * 800)                     # ~20 s per stream


async def _open_streams(s: aiohttp.ClientSession, url: str, n: int) -> list[asyncio.Task[bytes]]:
    async def stream() -> bytes:
        async with s.post(url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH) as r:
            assert r.status == 200
            return await r.read()
    return [asyncio.create_task(stream()) for _ in range(n)]


def _ends_with_one_shutdown_error(body: bytes) -> bool:
    events = [ln[5:].strip() for ln in body.decode().splitlines() if ln.startswith("data:")]
    errors = [e for e in events if e.startswith('{"error"')]
    return errors == events[-1:] and "shutting down" in errors[0] and "[DONE]" not in events


async def test_sigterm_not_ready_but_serving_during_the_delay_then_streams_cut_at_the_deadline(fake_openai,
                                                                                              tmp_path):
    fake_openai.always(LONG)
    port, ledger = free_port(), tmp_path / "ledger.db"
    write_config(tmp_path / "c.yaml", fake_openai.base_url, port, ledger,
                 server={"shutdown_delay_seconds": 1.0, "drain_timeout_seconds": 1.0})
    server = await Server(tmp_path / "c.yaml", port).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            tasks = await _open_streams(s, server.url, 5)
            await fake_openai.wait_for_requests(5, timeout=20)
            server.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)                               # within shutdown_delay_seconds
            async with aiohttp.ClientSession() as fresh:          # new connections are still accepted
                async with fresh.get(server.url + "/readyz") as r:
                    assert r.status == 503 and (await r.json())["status"] == "not ready"
                async with fresh.get(server.url + "/healthz") as r:
                    assert r.status == 200
            bodies = await asyncio.wait_for(asyncio.gather(*tasks), 15)
            assert all(_ends_with_one_shutdown_error(b) for b in bodies)
        assert await server.wait() == 0
        rows = ledger_rows(ledger)
        assert len(rows) == 5, await server.output()
        assert {(r["outcome"], r["status"]) for r in rows} == {("shutdown", 503)}
    finally:
        await server.stop()


async def test_a_second_sigterm_cuts_at_once_flushes_and_exits_0(fake_openai, tmp_path):
    fake_openai.always(LONG)
    port, ledger = free_port(), tmp_path / "ledger.db"
    write_config(tmp_path / "c.yaml", fake_openai.base_url, port, ledger,
                 server={"shutdown_delay_seconds": 30, "drain_timeout_seconds": 30})
    server = await Server(tmp_path / "c.yaml", port).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            tasks = await _open_streams(s, server.url, 3)
            await fake_openai.wait_for_requests(3, timeout=20)
            server.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            server.signal(signal.SIGTERM)                           # the fast path: no 60 s wait
            bodies = await asyncio.wait_for(asyncio.gather(*tasks), 8)
            assert all(_ends_with_one_shutdown_error(b) for b in bodies)
        assert await server.wait(timeout=8) == 0
        assert {r["outcome"] for r in ledger_rows(ledger)} == {"shutdown"}
    finally:
        await server.stop()


async def test_sigint_takes_the_fast_path_at_once(fake_openai, tmp_path):
    fake_openai.always(LONG)
    port, ledger = free_port(), tmp_path / "ledger.db"
    write_config(tmp_path / "c.yaml", fake_openai.base_url, port, ledger,
                 server={"shutdown_delay_seconds": 30, "drain_timeout_seconds": 30})
    server = await Server(tmp_path / "c.yaml", port).start()
    try:
        async with aiohttp.ClientSession() as s:
            (task,) = await _open_streams(s, server.url, 1)
            await fake_openai.wait_for_requests(1, timeout=20)
            server.signal(signal.SIGINT)
            assert _ends_with_one_shutdown_error(await asyncio.wait_for(task, 8))
        assert await server.wait(timeout=8) == 0
        assert [r["outcome"] for r in ledger_rows(ledger)] == ["shutdown"]
    finally:
        await server.stop()
