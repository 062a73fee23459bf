"""The structured access log: one JSON line per request, with ids and tokens, never secrets."""

from __future__ import annotations

import logging

import aiohttp
import orjson
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from proxy.logs import JsonFormatter


async def test_one_line_per_request_with_ids_and_tokens_but_no_secrets(fake_openai, tmp_path, caplog):
    fake_openai.script(Behavior(usage=Usage(input_tokens=5, output_tokens=3)))
    settings = settings_for(openai_config(fake_openai.base_url), ledger_path=str(tmp_path / "l.db"))
    caplog.set_level(logging.INFO, logger="relaygate.access")
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        body = {"model": "chat", "messages": [{"role": "user", "content": "my secret prompt"}]}
        async with http.post(gw.url + "/v1/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
            request_id = r.headers["x-request-id"]
            assert r.status == 200
    lines = [rec for rec in caplog.records if rec.name == "relaygate.access"]
    assert len(lines) == 1
    line = orjson.loads(JsonFormatter().format(lines[0]))
    assert line["request_id"] == request_id
    assert (line["endpoint"], line["served_model"], line["provider"], line["status"]) == ("chat", "gpt", "openai", 200)
    assert (line["input_tokens"], line["output_tokens"]) == (5, 3)
    assert line["owner"] == "alice" and line["latency_ms"] > 0
    text = JsonFormatter().format(lines[0])
    assert TEST_KEY not in text and "sk-upstream-secret" not in text and "secret prompt" not in text


async def test_access_log_can_be_turned_off(fake_openai, tmp_path, caplog):
    config = openai_config(fake_openai.base_url)
    config["server"] = {"access_log": False}
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    caplog.set_level(logging.INFO, logger="relaygate.access")
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        async with http.get(gw.url + "/v1/models", headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
            assert r.status == 200
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(gw.url + "/v1/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
            assert r.status == 200
    assert not [rec for rec in caplog.records if rec.name == "relaygate.access"]


def test_json_formatter_keeps_extra_fields_and_exceptions():
    rec = logging.LogRecord("relaygate", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    rec.request_id = "req_1"
    try:
        raise ValueError("bad")
    except ValueError:
        import sys
        rec.exc_info = sys.exc_info()
    out = orjson.loads(JsonFormatter().format(rec))
    assert out["msg"] == "boom x" and out["request_id"] == "req_1" and out["level"] == "error"
    assert "ValueError: bad" in out["exc"]


def _record(created: float, fields: dict) -> logging.LogRecord:
    rec = logging.getLogger("relaygate.access").makeRecord("relaygate.access", logging.INFO, __file__, 0,
                                                            "request", (), None, extra=fields)
    rec.created, rec.msecs = created, int((created - int(created)) * 1000) + 0.0
    return rec


def test_batched_lines_are_what_the_json_formatter_writes(monkeypatch):
    """The writer thread's own encoding (default set-up) gives JsonFormatter's bytes, in order."""
    import io
    import sys

    from plugins.logs.writer import LineWriter, plain_json_to_stderr
    from proxy.logs import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("RELAYGATE_LOG_FORMAT", "json")
    try:
        configure_logging()
        log = logging.getLogger("relaygate.access")
        assert plain_json_to_stderr(log) is not None           # the fast path is the one measured
        writer = LineWriter(log, "request", interval=60)       # only stop() writes: one batch
        rows = [(1764720000.123456, {"request_id": "req_1", "status": 200, "ttft_ms": None, "cost_usd": 0.5}),
                (1764720000.999, {"request_id": "req_1b", "status": 200}),      # the same second
                (1764720001.9999, {"request_id": "req_2", "status": 502, "error": "upstream_timeout",
                                   "client": "127.0.0.1", "stream": True})]
        for created, fields in rows:
            writer.add(created, fields)
        assert err.getvalue() == ""                            # nothing written on the request path
        writer.stop()
        expected = "".join(JsonFormatter().format(_record(c, f)) + "\n" for c, f in rows)
        assert err.getvalue() == expected
    finally:
        root.handlers[:], root.level = saved


def test_other_handlers_get_every_line_as_a_record_with_the_request_time(caplog):
    from plugins.logs.writer import LineWriter, plain_json_to_stderr

    caplog.set_level(logging.INFO, logger="relaygate.access")
    log = logging.getLogger("relaygate.access")
    assert plain_json_to_stderr(log) is None                   # caplog's handler is on the way
    writer = LineWriter(log, "request", interval=60)
    writer.add(1764720000.5, {"request_id": "req_9", "status": 200})
    writer.stop()
    [rec] = [r for r in caplog.records if r.name == "relaygate.access"]
    assert (rec.request_id, rec.status, rec.created, rec.getMessage()) == ("req_9", 200, 1764720000.5, "request")
