"""The crash journal: after a SIGKILL, the attempts that were in flight are ledger rows (incomplete)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "proxy"))
from serve_helpers import Server, free_port, ledger_rows, write_config

from plugins.metering import journal as jr

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Hi there"}], "stream": True}
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


async def test_attempts_in_flight_at_sigkill_become_incomplete_rows_after_restart(fake_openai, tmp_path):
    fake_openai.script(Behavior(chunks=400, chunk_delay=0.05, times=3))
    port, ledger = free_port(), tmp_path / "ledger.db"
    write_config(tmp_path / "c.yaml", fake_openai.base_url, port, ledger)
    server = await Server(tmp_path / "c.yaml", port).start()
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": False},
                              headers=AUTH) as r:
                assert r.status == 200                             # one that ends before the crash
            await asyncio.sleep(0.3)                               # its row is flushed (0.1 s)

            async def stream() -> None:
                try:
                    async with s.post(server.url + "/v1/chat/completions", json=CHAT, headers=AUTH) as r:
                        await r.read()
                except aiohttp.ClientError:
                    pass
            tasks = [asyncio.create_task(stream()) for _ in range(3)]
            await fake_openai.wait_for_requests(4, timeout=10)
            server.signal(signal.SIGKILL)
            await server.wait()
            await asyncio.gather(*tasks)
        assert len(ledger_rows(ledger)) == 1                       # the three in flight are lost ...
        server = await Server(tmp_path / "c.yaml", port).start()  # ... until the restart replays them
        rows = ledger_rows(ledger)
        assert sorted(r["outcome"] for r in rows) == ["complete", "incomplete", "incomplete", "incomplete"]
        incomplete = [r for r in rows if r["outcome"] == "incomplete"]
        assert all(r["input_tokens"] > 0 and r["owner"] == "alice" and r["endpoint"] == "chat"
                   and r["provider"] == "openai" and r["stream"] == 1 for r in incomplete)
        # priced as live rows are: gpt-4o-mini has no config prices, so the catalogue's
        assert all(r["cost_usd"] and r["cost_usd"] > 0 for r in incomplete)
        assert not [p for p in (tmp_path / "ledger.db.journal").iterdir() if ".replay-" in p.name]
        server.signal(signal.SIGTERM)
        assert await server.wait() == 0
        assert len(ledger_rows(ledger)) == 4                       # replayed once, never twice
        assert not list((tmp_path / "ledger.db.journal").iterdir())  # a clean stop leaves no journal
    finally:
        await server.stop()


def _start(rid: str, attempt: int = 1) -> bytes:
    return orjson.dumps([rid, attempt, 1.0, "chat", "gpt", "openai", "m", "unified", True, "k", "alice", "",
                         "", "", 7, {}]) + b"\n"


def test_a_torn_last_line_and_ended_attempts_are_skipped(tmp_path):
    path = tmp_path / "1.jnl"
    path.write_bytes(_start("req_a") + _start("req_b") + b"-req_a 1\n" + _start("req_c")[:20])
    (record,) = jr.read_unfinished(path, lambda r: r.usage.input_tokens * 1.0 if r.served_model == "gpt" else None)
    assert (record.request_id, record.outcome, record.usage.input_tokens, record.cost_usd) == ("req_b", "incomplete",
                                                                                                7, 7.0)


def test_only_journals_of_dead_processes_are_claimed(tmp_path):
    live = tmp_path / f"{os.getppid()}.jnl"                       # our parent: alive
    dead = tmp_path / "999999999.jnl"
    live.write_bytes(b"")
    dead.write_bytes(b"")
    assert jr.claim_orphans(tmp_path) == [tmp_path / f"999999999.jnl.replay-{os.getpid()}"]
    assert live.exists()


@pytest.mark.parametrize("rows_per_batch", [1, 50])
async def test_the_journal_is_compacted_to_its_open_attempts(tmp_path, monkeypatch, rows_per_batch):
    monkeypatch.setattr(jr, "COMPACT_BYTES", 2000)
    journal = jr.Journal(tmp_path)
    journal._open = {(f"req_{i}", 1): _start(f"req_{i}") for i in range(200)}
    journal._append(b"".join(journal._open.values()))
    for i in range(0, 199, rows_per_batch):
        journal.ended([(f"req_{j}", 1) for j in range(i, min(i + rows_per_batch, 199))])
    assert journal.path.stat().st_size < 4000
    assert [r.request_id for r in jr.read_unfinished(journal.path)] == ["req_199"]
    journal.close()
    assert journal.path.exists()                                   # one attempt is still open
