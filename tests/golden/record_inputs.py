"""Record the *inputs* of the golden translation cases (run by hand, rarely).

Client requests come from tests/fixtures/clients/captures (what real agents sent);
backend replies come from the fake upstreams, which speak each provider's exact
wire format. Expected outputs are then written by
``pytest tests/plugins/translate/test_translate_golden.py --update-golden``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent)]

from support.behavior import Behavior, ToolCall, Usage  # noqa: E402
from support.captures import load_capture  # noqa: E402
from support.fake_anthropic import FakeAnthropic  # noqa: E402
from support.fake_gemini import FakeGemini  # noqa: E402
from support.fake_openai import FakeOpenAI  # noqa: E402

#: pair -> (backend kind, client capture, index of the POST to use, options)
PAIRS = {
    "openai_anthropic": ("anthropic", "opencode-mlflow", 2, {}),
    "openai_gemini": ("gemini", "opencode-mlflow", 2, {}),
    "anthropic_openai": ("openai", "claude-code", 1, {"target": "openai_compatible"}),
    "anthropic_gemini": ("gemini", "claude-code", 1, {}),
    "responses_openai": ("openai", "codex", 1, {"policy": "drop", "target": "openai_compatible"}),
    "responses_anthropic": ("anthropic", "codex", 1, {"policy": "drop"}),
    "responses_gemini": ("gemini", "codex", 1, {"policy": "drop"}),
    "gemini_openai": ("openai", "gemini-cli", 2, {"target": "openai_compatible", "stream": True}),
    "gemini_anthropic": ("anthropic", "gemini-cli", 2, {"stream": True}),
}
BEHAVIOR = dict(reasoning="Check the weather first.", text="Let me look.", chunks=3,
                tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_golden01"),
                            ToolCall("get_weather", {"city": "Rome"}, id="call_golden02")],
                usage=Usage(input_tokens=40, output_tokens=25, reasoning_tokens=9, cached_tokens=6))


def capture_body(name: str, index: int) -> dict:
    return [p for p in load_capture(name) if p["method"] == "POST"][index]["body"]


async def backend_bytes(kind: str, stream: bool) -> bytes:
    fake = {"openai": FakeOpenAI, "anthropic": FakeAnthropic, "gemini": FakeGemini}[kind]()
    await fake.start()
    try:
        fake.script(Behavior(**BEHAVIOR))
        if kind == "openai":
            url, body = fake.base_url + "/chat/completions", {"model": "gpt-4o-mini", "messages": [],
                                                              "stream": stream,
                                                              **({"stream_options": {"include_usage": True}}
                                                                 if stream else {})}
        elif kind == "anthropic":
            url, body = fake.base_url + "/v1/messages", {"model": "claude-sonnet-4-6", "stream": stream}
        else:
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            url, body = fake.base_url + f"/v1beta/models/gemini-2.5-flash:{method}", {}
        async with aiohttp.ClientSession() as s, s.post(url, json=body) as r:
            return await r.read()
    finally:
        await fake.stop()


async def main() -> None:
    for pair, (kind, capture, index, options) in PAIRS.items():
        case = HERE / pair / "agent_turn"
        case.mkdir(parents=True, exist_ok=True)
        (case / "client_request.json").write_text(json.dumps(capture_body(capture, index), indent=1) + "\n")
        (case / "options.json").write_text(json.dumps(options) + "\n")
        (case / "backend_response.json").write_text(
            json.dumps(json.loads(await backend_bytes(kind, False)), indent=1) + "\n")
        (case / "backend_stream.sse").write_bytes(await backend_bytes(kind, True))


if __name__ == "__main__":
    asyncio.run(main())
