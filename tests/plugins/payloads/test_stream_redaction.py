"""A secret split across stream events is redacted in the stored events, on every surface.

The provider sends "before sk-… after" in many small deltas, so no single event holds the
secret. Joining the stored deltas again must give "before [REDACTED] after".
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import aiohttp
import orjson
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from plugins.metering.ledger import PAYLOAD_WRITER
from plugins.payloads.stream_redact import redact_stream

SECRET = "sk-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1w"
TEXT = f"before {SECRET} after"
PATTERNS = (r"sk-[A-Za-z0-9]{20,}",)


def data_events(stored: str) -> list[Any]:
    """The JSON payloads of stored SSE events, or the elements of a stored JSON-array stream."""
    if stored.lstrip().startswith("["):
        return list(json.loads(stored))
    return [json.loads(line[6:]) for line in stored.splitlines()
            if line.startswith("data: ") and line[6:].startswith("{")]


def joined(stored: str, surface: str) -> str:
    events = data_events(stored)
    if surface == "chat":
        return "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
    if surface == "responses":
        return "".join(e["delta"] for e in events if e.get("type") == "response.output_text.delta")
    if surface == "anthropic":
        return "".join(e["delta"].get("text", "") for e in events if e.get("type") == "content_block_delta")
    return "".join(p.get("text", "") for e in events for c in e.get("candidates", [])
                   for p in c.get("content", {}).get("parts", []))


def test_a_secret_split_over_chat_deltas_is_redacted_in_the_stored_events():
    pieces = ["before sk-Ab3", "dEf6hIj9k", "Lm2nOp5qRs8", "tUv1w af", "ter"]
    events = [{"id": "c1", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    other = {"id": "c1", "choices": [{"index": 1, "delta": {"content": "sk-"}}]}      # another choice
    raw = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in [events[0], other, *events[1:]])
    stored = redact_stream(raw + b"data: [DONE]\n\n", (), PATTERNS)
    assert joined(stored, "chat").replace("sk-", "", 1) == "before [REDACTED] after"
    assert SECRET not in stored and "data: [DONE]" in stored
    contents = [e["choices"][0]["delta"]["content"] for e in data_events(stored)]
    assert contents == ["before [REDACTED]", "sk-", "", "", " af", "ter"]


def test_json_array_streams_and_a_truncated_end():
    parts = [{"candidates": [{"index": 0, "content": {"parts": [{"text": p}]}}]}
             for p in ("before sk-Ab3dE", "f6hIj9kLm2nOp5qRs8t", "Uv1w after")]
    raw = ("[" + ",".join(json.dumps(p) for p in parts) + ',{"candidates": [{"ind').encode()
    stored = redact_stream(raw, (), PATTERNS)
    assert joined(stored.rsplit(',{"candidates": [{"ind', 1)[0] + "]", "gemini") == "before [REDACTED] after"
    assert SECRET not in stored


@pytest.mark.parametrize("surface", ["chat", "responses", "anthropic", "gemini-sse", "gemini-array"])
async def test_split_secrets_never_reach_the_payload_store(fake_openai, fake_anthropic, fake_gemini, tmp_path,
                                                           surface):
    logging = {"enabled": True, "redact": {"patterns": list(PATTERNS)}}
    cfg = openai_config(fake_openai.base_url)
    cfg["providers"].update({
        "anthropic": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk-ant-upstream"},
        "gemini": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "gm-upstream"}})
    cfg["endpoints"]["chat"]["payload_logging"] = logging
    cfg["endpoints"]["claude"] = {"payload_logging": logging,
                                  "served_models": [{"name": "c", "provider": "anthropic", "model": "claude-x"}]}
    cfg["endpoints"]["gem"] = {"payload_logging": logging,
                               "served_models": [{"name": "g", "provider": "gemini", "model": "gemini-2.5-flash"}]}
    behavior = Behavior(text=TEXT, chunks=9)
    calls = {
        "chat": ("/v1/chat/completions", {"model": "chat", "stream": True,
                                          "messages": [{"role": "user", "content": "hi"}]}),
        "responses": ("/openai/v1/responses", {"model": "chat", "stream": True, "store": False, "input": "hi"}),
        "anthropic": ("/anthropic/v1/messages", {"model": "claude", "stream": True, "max_tokens": 50,
                                                 "messages": [{"role": "user", "content": "hi"}]}),
        "gemini-sse": ("/gemini/v1beta/models/gem:streamGenerateContent?alt=sse",
                       {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        "gemini-array": ("/gemini/v1beta/models/gem:streamGenerateContent",
                         {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    }
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.always(behavior)
    path, body = calls[surface]
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                        headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
            sent = (await r.read()).decode()
            assert r.status == 200
        assert joined(sent, surface.split("-")[0]) == TEXT             # the client got it all, split
        await gw.flush_ledger()
        await gw.gateway.stash[PAYLOAD_WRITER].flush()
        with sqlite3.connect(gw.gateway.settings.storage.ledger.path) as db:
            (stored,) = [r[0] for r in db.execute("SELECT response_body FROM payloads")]
    assert SECRET not in stored
    assert not re.search(PATTERNS[0], joined(stored, surface.split("-")[0]))
    assert joined(stored, surface.split("-")[0]) == "before [REDACTED] after"
