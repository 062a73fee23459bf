"""Running `relaygate serve --config` as a real subprocess for signal tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from support.gateway import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, upstream_url: str, port: int, ledger: Path, *, endpoints: list[str] | None = None,
                 server: dict[str, Any] | None = None) -> None:
    server = dict(server or {})
    if "drain_delay_seconds" not in server:              # the former name of the delay
        server.setdefault("shutdown_delay_seconds", 0)   # tests that stop servers need no delay
    cfg = {
        "server": {"host": "127.0.0.1", "port": port, "drain_timeout_seconds": 20, "reload_poll_seconds": 0,
                   **server},
        "providers": {"openai": {"type": "openai", "base_url": upstream_url, "api_key": "sk-upstream"}},
        "endpoints": {name: {"served_models": [{"name": "gpt", "provider": "openai", "model": "gpt-4o-mini"}]}
                      for name in (endpoints or ["chat"])},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
        "storage": {"ledger": {"path": str(ledger), "flush_interval_seconds": 0.1}},
    }
    path.write_text(yaml.safe_dump(cfg))


class Server:
    def __init__(self, config: Path, port: int, *args: str, env: dict[str, str] | None = None) -> None:
        self.config, self.port, self.args, self.env = config, port, args, env or {}
        self.url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.log = config.with_suffix(".log")        # a file, not a pipe: a full pipe would block the server

    async def start(self) -> Server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RELAYGATE_LOG_LEVEL": "INFO", **self.env}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy", "serve", "--config", str(self.config), *self.args,
            cwd=str(ROOT), env=env, stdout=self.log.open("wb"), stderr=asyncio.subprocess.STDOUT)
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                if self.proc.returncode is not None:
                    raise AssertionError("server exited: " + (await self.output()))
                try:
                    async with s.get(self.url + "/readyz") as r:
                        if r.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("server did not become ready")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def ledger_rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM ledger")]
