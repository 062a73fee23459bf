"""Running a real gateway on a loopback port for end-to-end tests."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from plugins.metering.ledger import LEDGER
from plugins.metering.pricing import BOOK, billed
from proxy.app import GATEWAY, make_app
from proxy.config import Settings, parse_settings
from proxy.gateway import Gateway
from proxy.serve import make_runner

TEST_KEY = "rg-test-key-0123456789"


def settings_for(config: dict[str, Any] | str, *, ledger_path: str, env: dict[str, str] | None = None) -> Settings:
    """Settings from a config dict (or YAML text), with the ledger in *ledger_path*."""
    data = yaml.safe_load(config) if isinstance(config, str) else dict(config)
    data.setdefault("storage", {}).setdefault("ledger", {}).setdefault("path", ledger_path)
    data["storage"]["ledger"].setdefault("flush_interval_seconds", 0.05)
    return parse_settings(yaml.safe_dump(data), "test-config", env or {})


def openai_config(base_url: str, *, keys: list[dict[str, Any]] | None = None,
                  endpoints: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "providers": {"openai": {"type": "openai", "base_url": base_url, "api_key": "sk-upstream-secret"}},
        "endpoints": endpoints or {"chat": {"task": "chat", "served_models": [
            {"name": "gpt", "provider": "openai", "model": "gpt-4o-mini",
             "prices": {"input": 1.0, "output": 2.0}}]}},
        "keys": keys if keys is not None else [{"name": "alice-key", "key": TEST_KEY, "owner": "alice",
                                                "team": "ml"}],
    }


class RunningGateway:
    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self.runner = runner
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @property
    def app(self) -> web.Application:
        return self.runner.app

    @property
    def gateway(self) -> Gateway:
        return self.app[GATEWAY]

    async def flush_ledger(self) -> None:
        # A model's first request waits for the price catalogue helper's answer (plugins/metering/
        # price_helper.py) before its row is written; a stream's client has all of it by then.
        await billed()
        await self.gateway.stash[LEDGER].flush()

    async def ledger_rows(self) -> list[dict[str, Any]]:
        await self.flush_ledger()
        path = self.gateway.settings.storage.ledger.path
        with sqlite3.connect(path) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM ledger ORDER BY ts, attempt")]

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as s, s.get(self.url + "/metrics") as r:
            return await r.text()


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@asynccontextmanager
async def run_gateway(settings: Settings, **app_kwargs: Any) -> AsyncIterator[RunningGateway]:
    app = make_app(settings, **app_kwargs)
    # The same runner options as `relaygate serve` (header limits, handler cancellation), faster shutdown.
    runner = make_runner(app, settings, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    # The configured models' prices are being asked of the catalogue helper (plugins/metering/
    # pricing.py): wait, so a test's first request is recorded as soon as it ends.
    await BOOK.settled()
    try:
        yield RunningGateway(runner, port)
    finally:
        await runner.cleanup()
