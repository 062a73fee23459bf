"""Responses turns over one WebSocket against the same turns as streamed HTTP POSTs.

    .venv/bin/python tests/bench/bench_responses_ws.py [--turns 200] [--provider anthropic]

A gateway over a fake provider (loopback, no delays) serves a chain of ``store: false`` turns:
over WebSocket mode each turn sends only its new input and continues the previous one by
``previous_response_id`` (the socket remembers the chain); over HTTP each POST resends the
whole conversation (the stateless way Codex works over HTTP). Prints the time per turn
(median, p95) and the client-sent bytes per turn for both. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parents[1] / "plugins" / "openai"))

import aiohttp
from responses_compliance_support import MODELS, serve
from responses_ws_support import ws_url
from support.gateway import TEST_KEY

HEADERS = {"Authorization": f"Bearer {TEST_KEY}"}


def quantiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"median {statistics.median(ms):6.2f} ms  p95 {ms[int(len(ms) * 0.95) - 1]:6.2f} ms"


async def over_websocket(base: str, model: str, turns: int) -> tuple[list[float], int]:
    times, sent, prev = [], 0, None
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url(base), headers=HEADERS) as ws:
        for i in range(turns):
            msg = {"type": "response.create", "model": model, "store": False, "input": f"turn {i}"}
            if prev:
                msg["previous_response_id"] = prev
            text = json.dumps(msg)
            sent += len(text)
            t0 = time.perf_counter()
            await ws.send_str(text)
            while True:
                event = json.loads((await ws.receive()).data)
                if event["type"] == "response.completed":
                    prev = event["response"]["id"]
                    break
            times.append(time.perf_counter() - t0)
    return times, sent


async def over_http(base: str, model: str, turns: int) -> tuple[list[float], int]:
    times, sent, conversation = [], 0, []
    async with aiohttp.ClientSession() as s:
        for i in range(turns):
            conversation.append({"type": "message", "role": "user", "content": f"turn {i}"})
            body = json.dumps({"model": model, "store": False, "stream": True, "input": conversation})
            sent += len(body)
            t0 = time.perf_counter()
            headers = {**HEADERS, "Content-Type": "application/json"}
            async with s.post(base + "/responses", data=body, headers=headers) as r:
                raw = await r.read()
            times.append(time.perf_counter() - t0)
            final = next(json.loads(line[6:]) for line in raw.decode().splitlines()[::-1]
                         if line.startswith("data: {") and '"response.completed"' in line)
            conversation += [{k: v for k, v in item.items() if k != "id"} for item in final["response"]["output"]]
    return times, sent


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--provider", default="anthropic", choices=sorted(MODELS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with serve(args.provider, "/openai/v1", Path(tmp)) as served:
            await over_websocket(served.base, served.model, 10)          # warm both paths
            await over_http(served.base, served.model, 10)
            ws_times, ws_sent = await over_websocket(served.base, served.model, args.turns)
            http_times, http_sent = await over_http(served.base, served.model, args.turns)
    print(f"{args.turns} chained store:false turns on {MODELS[args.provider]} (fake provider, loopback):")
    for name, times, sent in (("WebSocket (previous_response_id)", ws_times, ws_sent),
                              ("HTTP POST (whole conversation)", http_times, http_sent)):
        print(f"  {name:34} {quantiles(times)}  client bytes/turn {sent / args.turns:8.0f}")


if __name__ == "__main__":
    asyncio.run(main())
