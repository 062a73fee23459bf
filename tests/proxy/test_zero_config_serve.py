"""`relaygate serve` with no config file, as a real process, against a fake OpenAI upstream."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp
import openai
import pytest
from support.behavior import Behavior, Usage
from plugins.metering.catalogue import lookup
from support.gateway import metric_value

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def served(fake_openai, tmp_path):
    port = free_port()
    env = {**os.environ, "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-up",
           "RELAYGATE_API_KEYS": "key-one,key-two", "RELAYGATE_LEDGER_PATH": str(tmp_path / "ledger.db")}
    env.pop("RELAYGATE_CONFIG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "--port", str(port), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url + "/readyz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        else:
            proc.kill()
            raise AssertionError((await proc.stderr.read()).decode())
    yield url, tmp_path / "ledger.db"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_zero_config_serves_sdk_chat_and_stream_with_ledger_and_metrics(served, fake_openai):
    url, ledger = served
    fake_openai.script(Behavior(usage=Usage(input_tokens=11, output_tokens=4)),
                       Behavior(chunks=4, usage=Usage(input_tokens=7, output_tokens=4)))
    client = openai.AsyncOpenAI(base_url=url + "/mlflow/v1", api_key="key-two", max_retries=0)
    reply = await client.chat.completions.create(model="openai/gpt-4o-mini",
                                                 messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    assert fake_openai.requests[0].body["model"] == "gpt-4o-mini"
    stream = await client.chat.completions.create(model="openai/gpt-4o-mini", stream=True,
                                                  messages=[{"role": "user", "content": "hi"}])
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    bad = openai.AsyncOpenAI(base_url=url + "/mlflow/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await bad.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="openai/gpt-4o-mini", temperature=5,
                                             messages=[{"role": "user", "content": "x"}])
    assert info.value.body["param"] == "temperature"

    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as r:
        text = await r.text()
    assert metric_value(text, "relaygate_requests_total", endpoint="openai/*", status="200") == 2
    assert metric_value(text, "relaygate_tokens_total", type="input") == 18
    await asyncio.sleep(1.0)      # the ledger flushes every 0.5 s
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT endpoint, provider_model, input_tokens, output_tokens, stream "
                          "FROM ledger ORDER BY ts").fetchall()
        costs = [c for (c,) in db.execute("SELECT cost_usd FROM ledger ORDER BY ts")]
    assert rows == [("openai/gpt-4o-mini", "gpt-4o-mini", 11, 4, 0), ("openai/gpt-4o-mini", "gpt-4o-mini", 7, 4, 1)]
    # priced from the catalogue with no config at all (gpt-4o-mini: $0.15 in, $0.60 out per million)
    rates = lookup("openai", "", "gpt-4o-mini").rates
    assert costs == [pytest.approx((n * rates["input"] + 4 * rates["output"]) / 1e6) for n in (11, 7)]
    assert all(c > 0 for c in costs)
    assert metric_value(text, "relaygate_requests_total", endpoint="openai/*", model="gpt-4o-mini",
                        status="200") == 2
