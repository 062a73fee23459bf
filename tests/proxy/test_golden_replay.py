"""The golden wire captures replayed through a running gateway: what the client reads and the
ledger rows must be exactly what they were before any change to the relay path.

A fake upstream (real HTTP) answers with a golden case's recorded provider bytes
(``backend_stream.sse``, ``backend_response.json``), sent in small pieces so events split
across reads. Each case is replayed four ways: the client's request through the translated
route (the client sees the golden ``client_stream.sse`` / ``client_response.json``), and the
provider-format request (``backend_request.json``) through a same-format passthrough route,
whose client must get the provider's bytes unchanged. The ledger row of every replay is
compared with ``replay_ledger.json`` (volatile columns left out: request id, times,
latencies); ``pytest --update-golden`` rewrites it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from support.gateway import TEST_KEY, run_gateway, settings_for

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/*") if p.is_dir() and (p / "backend_stream.sse").exists()
               and p.parent.name.split("_", 1)[0] in ("openai", "anthropic", "gemini", "responses"))
_ID = re.compile(r"(chatcmpl-|msg_|resp_|rs_|fc_|ctc_|call_|toolu_)?[0-9a-f]{24}")
_TIME = re.compile(r'"(created|created_at|completed_at)": ?\d+')
#: the ledger columns that do not change from run to run
LEDGER_COLUMNS = ("attempt", "key_id", "owner", "team", "endpoint", "served_model", "provider", "provider_model",
                  "surface", "status", "error", "stream", "disconnected", "input_tokens", "output_tokens",
                  "cached_input_tokens", "cache_creation_tokens", "reasoning_tokens", "total_tokens", "cost_usd",
                  "agent", "session_id", "outcome", "labels", "trace_id")
PROVIDER_TYPE = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini"}
MODEL = "client-model"


def normalise(text: str) -> str:
    """Generated ids and timestamps as the translation golden files have them."""
    seen: dict[str, str] = {}
    text = _TIME.sub(lambda m: f'"{m.group(1)}": 0', text)
    return _ID.sub(lambda m: seen.setdefault(m.group(0), f"<id:{len(seen)}>"), text)


class Upstream:
    """Answers every POST with the bytes it is given, 61 bytes a write."""

    def __init__(self) -> None:
        self.body = b""
        self.stream = False
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Upstream:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if not self.stream:
            return web.Response(body=self.body, content_type="application/json")
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)
        for i in range(0, len(self.body), 61):
            await out.write(self.body[i:i + 61])
        await out.write_eof()
        return out


def config(upstream: str, provider_type: str, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": {"up": {"type": options.get("target", provider_type), "base_url": upstream,
                             "api_key": "sk-golden-upstream"}},
        "endpoints": {MODEL: {"task": "chat", "unsupported_params": options.get("policy", "reject"),
                              "served_models": [{"name": "served", "provider": "up", "model": "upstream-model",
                                                 "prices": {"input": 1.0, "output": 2.0}}]}},
        "keys": [{"name": "golden-key", "key": TEST_KEY, "owner": "golden", "team": "qa"}],
    }


def client_call(fmt: str, body: dict[str, Any], stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, body, headers) of a request in the client format *fmt*."""
    body = {k: v for k, v in body.items() if k != "model" and (stream or k != "stream_options")}
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    if fmt == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/gemini/v1beta/models/{MODEL}:{method}", body, {"x-goog-api-key": TEST_KEY}
    body = {**body, "model": MODEL, "stream": stream}
    if fmt == "anthropic":
        return "/anthropic/v1/messages", body, {"x-api-key": TEST_KEY, "anthropic-version": "2023-06-01"}
    return ("/v1/responses" if fmt == "responses" else "/v1/chat/completions"), body, headers


async def replay(case: Path, tmp_path: Path, *, passthrough: bool, stream: bool) -> tuple[bytes, dict[str, Any]]:
    client_fmt, backend_fmt = case.parent.name.split("_", 1)
    options = json.loads((case / "options.json").read_text()) if (case / "options.json").exists() else {}
    if passthrough:
        client_fmt, options = backend_fmt, {k: v for k, v in options.items() if k == "target"}
        body = json.loads((case / "backend_request.json").read_text())
        if backend_fmt == "openai" and stream:       # the client asks for usage itself: no chunk is hidden
            body["stream_options"] = {"include_usage": True}
    else:
        body = json.loads((case / "client_request.json").read_text())
    upstream = await Upstream().start()
    upstream.stream = stream
    upstream.body = (case / ("backend_stream.sse" if stream else "backend_response.json")).read_bytes()
    settings = settings_for(config(upstream.url, PROVIDER_TYPE[backend_fmt], options),
                            ledger_path=str(tmp_path / f"{passthrough}-{stream}.db"))
    path, body, headers = client_call(client_fmt, body, stream)
    try:
        async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
            async with http.post(gw.url + path, json=body, headers=headers) as r:
                got = await r.read()
                assert r.status == 200, got
            [row] = await gw.ledger_rows()
    finally:
        assert upstream.runner is not None
        await upstream.runner.cleanup()
    return got, {k: row[k] for k in LEDGER_COLUMNS}


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_replay_gives_the_golden_bytes_and_ledger_rows(case: Path, tmp_path: Path, request) -> None:
    update = bool(request.config.getoption("--update-golden"))
    rows = {}
    got, rows["translated_stream"] = await replay(case, tmp_path, passthrough=False, stream=True)
    if case.parent.name.startswith("gemini_"):
        got = got.replace(b"\r\n", b"\n")      # the Gemini surface frames events as Google does (CRLF)
    assert normalise(got.decode()) == (case / "client_stream.sse").read_text()
    got, rows["translated_body"] = await replay(case, tmp_path, passthrough=False, stream=False)
    assert json.loads(normalise(got.decode())) == json.loads((case / "client_response.json").read_text())
    got, rows["passthrough_stream"] = await replay(case, tmp_path, passthrough=True, stream=True)
    assert got == (case / "backend_stream.sse").read_bytes()          # byte for byte
    got, rows["passthrough_body"] = await replay(case, tmp_path, passthrough=True, stream=False)
    assert got == (case / "backend_response.json").read_bytes()
    expected = case / "replay_ledger.json"
    text = json.dumps(rows, indent=1, sort_keys=True) + "\n"
    if update or not expected.exists():
        expected.write_text(text)
    assert text == expected.read_text(), f"{expected} differs (run pytest --update-golden and review the diff)"
