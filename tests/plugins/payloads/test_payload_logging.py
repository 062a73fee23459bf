"""Payload logging: opt-in per endpoint, redaction (JSON paths, regexes), sampling, size cap."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp
import orjson
from support.behavior import Behavior
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from plugins.metering.ledger import PAYLOAD_WRITER
from plugins.payloads.redact import parse_path, redact_path, render


def test_json_paths_and_patterns_redact_a_copy():
    body = {"user": "u-1", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    text, cut = render(body, ("$.messages[*].content", "user"), (r"role",), 10_000)
    assert orjson.loads(text.replace("[REDACTED]", "R")) == {"user": "R", "messages": [
        {"R": "user", "content": "R"}, {"R": "user", "content": "R"}]} and not cut
    assert body["messages"][0]["content"] == "a"             # the live body is untouched
    assert parse_path("$.a[0].b") == ("a", 0, "b")
    obj = {"a": [{"b": 1}, {"b": 2}]}
    redact_path(obj, parse_path("a[1].b"))
    assert obj == {"a": [{"b": 1}, {"b": "[REDACTED]"}]}


def test_cap_applies_after_redaction():
    text, cut = render(b"x" * 50 + b" sk-abcdef", (), (r"sk-\w+",), 55)
    assert cut and len(text.encode()) == 55 and "sk-" not in text


def settings(base_url, tmp_path, **logging):
    cfg = openai_config(base_url)
    cfg["endpoints"]["chat"]["payload_logging"] = {"enabled": True, **logging}
    return settings_for(cfg, ledger_path=str(tmp_path / "l.db"))


async def chat(gw, content: str, stream: bool = False) -> None:
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {TEST_KEY}"},
            json={"model": "chat", "stream": stream, "user": "alice@example.com",
                  "messages": [{"role": "user", "content": content}]}) as r:
        assert r.status == 200
        await r.read()


async def payloads(gw) -> list[dict]:
    await gw.flush_ledger()
    await gw.gateway.stash[PAYLOAD_WRITER].flush()
    with sqlite3.connect(gw.gateway.settings.storage.ledger.path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM payloads")]


async def test_bodies_are_stored_redacted_and_never_headers(fake_openai, tmp_path):
    redact = {"json_paths": ["$.user"], "patterns": [r"\b\d{3}-\d{2}-\d{4}\b"]}
    async with run_gateway(settings(fake_openai.base_url, tmp_path, redact=redact)) as gw:
        fake_openai.script(Behavior(text="Your SSN is 123-45-6789."))
        await chat(gw, "what is my ssn, 987-65-4321?")
        fake_openai.script(Behavior(text="streamed 111-22-3333 reply", chunks=4))
        await chat(gw, "stream it", stream=True)
        rows = sorted(await payloads(gw), key=lambda r: r["stream"])
    assert len(rows) == 2
    plain, streamed = rows
    request = orjson.loads(plain["request_body"])
    assert request["user"] == "[REDACTED]" and request["messages"][0]["content"] == "what is my ssn, [REDACTED]?"
    response = orjson.loads(plain["response_body"])
    assert response["choices"][0]["message"]["content"] == "Your SSN is [REDACTED]."
    assert streamed["stream"] == 1 and "data:" in streamed["response_body"]
    assert "111-22-3333" not in streamed["response_body"] and "[DONE]" in streamed["response_body"]
    everything = str(rows)
    assert TEST_KEY not in everything and "sk-upstream-secret" not in everything
    assert "6789" not in everything and "alice@example.com" not in everything


async def test_size_cap_truncates_and_flags(fake_openai, tmp_path):
    async with run_gateway(settings(fake_openai.base_url, tmp_path, max_bytes=100)) as gw:
        fake_openai.script(Behavior(text="y" * 5000))
        await chat(gw, "z" * 3000)
        (row,) = await payloads(gw)
    assert len(row["request_body"].encode()) == 100 and row["request_truncated"] == 1
    assert len(row["response_body"].encode()) == 100 and row["response_truncated"] == 1


async def test_sampling_and_opt_in(fake_openai, tmp_path):
    async with run_gateway(settings(fake_openai.base_url, tmp_path / "a", sample_rate=0)) as gw:
        await asyncio.gather(*(chat(gw, "hi") for _ in range(10)))
        assert await payloads(gw) == [] and len(await gw.ledger_rows()) == 10
    async with run_gateway(settings(fake_openai.base_url, tmp_path / "b", sample_rate=0.5)) as gw:
        await asyncio.gather(*(chat(gw, "hi") for _ in range(60)))
        sampled = len(await payloads(gw))
        assert 5 < sampled < 55                     # about half (binomial, p of failing ~1e-11)
    plain = settings_for(openai_config(fake_openai.base_url), ledger_path=str(tmp_path / "c.db"))
    async with run_gateway(plain) as gw:
        await chat(gw, "hi")
        assert await payloads(gw) == []             # off unless the endpoint opts in
