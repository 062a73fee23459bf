"""No crash reaches a client: a bug anywhere on the request path is a 500 in the client's own error
shape with its request id, logged with its traceback and counted as 500 (access log, metrics)."""

from __future__ import annotations

import asyncio

import logging

import aiohttp
import orjson
import pytest
from support.gateway import TEST_KEY, metric_value, run_gateway, settings_for

from plugins.translate.pair import PairExchange, PairStream
from proxy.logs import JsonFormatter


def _config(fakes) -> dict:
    return {
        "providers": {
            "oai": {"type": "openai", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
            "ant": {"type": "anthropic", "base_url": fakes["anthropic"].base_url, "api_key": "sk-ant-up"},
        },
        "endpoints": {"m-openai": {"served_models": [{"name": "gpt", "provider": "oai", "model": "gpt-4o-mini"}]},
                      "m-anthropic": {"served_models": [{"name": "claude", "provider": "ant",
                                                         "model": "claude-sonnet-4-6"}]}},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
    }


@pytest.fixture
async def gw(fake_openai, fake_anthropic, tmp_path):
    settings = settings_for(_config({"openai": fake_openai, "anthropic": fake_anthropic}),
                            ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as running:
        yield running


async def _post(gw, path: str, body: dict) -> tuple[int, dict, str, bytes]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                    headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.content_type, await r.read()


async def _access_lines(caplog, wait: float = 5.0) -> list[dict]:
    """The access log's lines so far: its writer thread hands them to logging in batches."""
    for _ in range(int(wait / 0.05)):
        if lines := [orjson.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "relaygate.access"]:
            return lines
        await asyncio.sleep(0.05)
    return []


def _explode(*args, **kwargs):
    raise TypeError("a translator read a list where it expected an object")


CHAT = {"model": "m-anthropic", "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
ANTHROPIC = {"model": "m-openai", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("path", "body", "shape"), [
    ("/v1/chat/completions", CHAT, "openai"),
    ("/v1/responses", {"model": "m-anthropic", "input": "hi"}, "openai"),
    ("/anthropic/v1/messages", ANTHROPIC, "anthropic"),
    ("/gemini/v1beta/models/m-anthropic:generateContent", GEMINI, "gemini"),
])
async def test_a_translator_crash_is_a_500_in_the_clients_shape(gw, monkeypatch, caplog, path, body, shape):
    monkeypatch.setattr(PairExchange, "request", _explode)
    caplog.set_level(logging.INFO)
    status, headers, ctype, data = await _post(gw, path, body)
    assert status == 500 and ctype == "application/json"
    request_id = headers["x-request-id"]
    err = orjson.loads(data)
    if shape == "openai":
        assert err["error"]["type"] == "server_error" and request_id in err["error"]["message"]
    elif shape == "anthropic":
        assert err["type"] == "error" and err["error"]["type"] == "api_error" and err["request_id"] == request_id
    else:
        assert err["error"]["code"] == 500 and err["error"]["status"] == "INTERNAL"
    assert "list where it expected" not in data.decode()         # the exception's text stays in the log
    logged = [r for r in caplog.records if r.name == "relaygate.pipeline" and r.exc_info]
    assert logged and request_id in logged[0].getMessage()
    access = await _access_lines(caplog)
    assert [(a["request_id"], a["status"]) for a in access] == [(request_id, 500)]
    assert metric_value(await gw.metrics(), "relaygate_requests_total", status="500") == 1


async def test_a_crash_mid_stream_ends_it_with_one_error_event(gw, fake_openai, monkeypatch):
    calls = {"n": 0}
    original = PairStream.feed

    def feed(self, chunk: bytes) -> bytes:
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyError("choices")
        return original(self, chunk)

    monkeypatch.setattr(PairStream, "feed", feed)
    from support.behavior import Behavior
    fake_openai.script(Behavior(text="one two three four five six", chunks=6, chunk_delay=0.05))
    status, _, _, data = await _post(gw, "/anthropic/v1/messages", {**ANTHROPIC, "stream": True})
    assert status == 200
    text = data.decode()
    assert text.count("event: error") == 1 and text.rstrip().endswith("}")
    assert '"api_error"' in text and "message_stop" not in text
    rows = await gw.ledger_rows()
    assert [(r["status"], r["error"]) for r in rows] == [(500, "internal")]


async def test_a_crash_before_any_translation_is_a_500_too(gw, monkeypatch):
    import proxy.pipeline
    monkeypatch.setattr(proxy.pipeline, "check_caps", _explode)
    status, headers, _, data = await _post(gw, "/v1/chat/completions", {**CHAT, "model": "m-openai"})
    assert status == 500
    assert orjson.loads(data)["error"]["type"] == "server_error"
    assert headers["x-request-id"].startswith("req_")


async def test_a_providers_html_error_page_reaches_the_client_in_its_own_shape(gw, fake_openai):
    from support.behavior import Behavior
    # (statuses that are not retried: a retry would reach the fake's next, healthy answer)
    fake_openai.script(Behavior(status=404, raw="<html><body>Not Found</body></html>", content_type="text/html"))
    status, headers, ctype, data = await _post(gw, "/anthropic/v1/messages",
                                               {**ANTHROPIC, "model": "m-openai"})
    assert status == 404 and ctype == "application/json"
    err = orjson.loads(data)
    assert err["type"] == "error" and err["error"]["type"] == "not_found_error"
    fake_openai.script(Behavior(status=400, raw="upstream says no", content_type="text/plain"))
    status, headers, ctype, data = await _post(gw, "/v1/chat/completions", {**CHAT, "model": "m-openai"})
    assert (status, ctype) == (400, "application/json")
    assert "HTTP 400" in orjson.loads(data)["error"]["message"]
    assert headers["x-relaygate-served-model"] == "gpt"
