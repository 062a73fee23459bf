"""Instructions per request, counted by callgrind: a figure that does not drift with machine load.

Starts the fake OpenAI upstream of the test suite in this process and the gateway
(zero-config defaults: access log on, SQLite ledger, metrics, every default plugin)
under ``valgrind --tool=callgrind`` in a subprocess, warms it up, zeroes the
counters, sends N sequential requests, dumps, and prints instructions per request.

    python tests/bench/instructions.py                 # 200 non-streaming chat requests
    python tests/bench/instructions.py --stream        # 200 streams of the fake's default answer
    python tests/bench/instructions.py --stream --chunks 200 --chunk-delay-ms 10
                                                       # streams of 200 text chunks, 10 ms apart (paced:
                                                       # one read per event); run --chunks 20 and 200 and
                                                       # divide the difference by 180 for a per-chunk figure
    python tests/bench/instructions.py --repo DIR      # measure another checkout (before/after)
    python tests/bench/instructions.py --tracing       # with OpenTelemetry tracing on, exporting to a
                                                       # loopback OTLP receiver (the export thread counts)

Needs valgrind (Debian's ``valgrind`` package, which ships ``callgrind_control``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))                  # tests/ on the path: the fakes
from support.behavior import Behavior  # noqa: E402
from support.fake_openai import FakeOpenAI  # noqa: E402

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 600, any_answer: bool = False) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"gateway exited with {proc.returncode}")
            try:
                async with session.get(url + "/readyz") as r:
                    if r.status == 200 or any_answer:     # the passthrough relays /readyz to the fake
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit("gateway did not become ready")


async def send(session: aiohttp.ClientSession, url: str, n: int, stream: bool) -> int:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}],
            "max_tokens": 20, "stream": stream}
    chunks = 0
    for _ in range(n):
        async with session.post(url + "/v1/chat/completions", json=body,
                                headers={"Authorization": f"Bearer {KEY}"}) as r:
            assert r.status == 200, await r.text()
            async for _chunk in r.content.iter_any():
                chunks += 1
    return chunks


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a measured server: asked first, killed after 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


def total_instructions(out_dir: str) -> int:
    """Sum the ``summary:``/``totals:`` of every dump callgrind_control wrote since the last zero."""
    total = 0
    for f in Path(out_dir).glob("callgrind.out*"):
        text = f.read_text(errors="replace")
        m = re.search(r"^summary:\s+(\d+)", text, re.M)
        if m and re.search(r"^desc: Trigger: .*dump", text, re.M | re.I):
            total += int(m.group(1))
    return total


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--stream", action="store_true", help="streaming requests")
    ap.add_argument("--chunks", type=int, default=0,
                    help="text chunks per stream (the fake's answer is 'tok ' times this); default: the fake's")
    ap.add_argument("--chunk-delay-ms", type=float, default=0.0,
                    help="the fake's pause between stream events (0: back to back, reads coalesce)")
    ap.add_argument("--idle", type=float, default=0.0,
                    help="count SECONDS of an idle gateway instead of requests (timers, threads)")
    ap.add_argument("--repo", default=str(HERE.parents[1]), help="checkout whose gateway is measured")
    ap.add_argument("--tracing", action="store_true", help="tracing on: OTLP/HTTP to a receiver in this process")
    ap.add_argument("--passthrough", action="store_true",
                    help="measure the harness's bare aiohttp passthrough instead (the same requests, same fake)")
    args = ap.parse_args()

    fake = await FakeOpenAI().start()
    if args.chunks or args.chunk_delay_ms:
        chunks = args.chunks or 3
        fake.always(Behavior(chunks=chunks, text="tok " * chunks, chunk_delay=args.chunk_delay_ms / 1000))
    receiver = None
    otel: dict[str, str] = {}
    if args.tracing:
        sys.path.insert(0, str(HERE.parent / "plugins" / "tracing"))
        from otlp_receiver import OtlpReceiver
        receiver = await OtlpReceiver().start()
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="relaygate-instr-")
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url,
           "RELAYGATE_API_KEYS": KEY, "RELAYGATE_LEDGER_PATH": os.path.join(work, "ledger.db"),
           "PYTHONPATH": args.repo, **otel}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("GEMINI_API_KEY", None)
    served = [sys.executable, "-m", "proxy", "serve", "--port", str(port)]
    if args.passthrough:   # the fake serves /v1/...; the passthrough appends the client's path to its upstream
        served = [sys.executable, str(HERE / "harness" / "aiohttp_proxy.py"),
                  fake.base_url.removesuffix("/v1"), "--port", str(port)]
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/callgrind.out.%p", *served]
    proc = subprocess.Popen(cmd, cwd=args.repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_ready(url, proc, any_answer=args.passthrough)
        async with aiohttp.ClientSession() as session:
            await send(session, url, args.warmup, args.stream)
            for f in Path(work).glob("callgrind.out*"):
                f.unlink()
            callgrind("-z", str(proc.pid))
            if args.idle:
                await asyncio.sleep(args.idle)
                callgrind("-d", str(proc.pid))
                total = total_instructions(work)
                print(f"idle {args.idle:g} s: {total:,} instructions; {total / args.idle:,.0f} per second")
                return
            chunks = await send(session, url, args.requests, args.stream)
            await asyncio.sleep(1.5)                       # the ledger writer's batch lands inside the window
            callgrind("-d", str(proc.pid))
        total = total_instructions(work)
        what = "stream" if args.stream else "request"
        print("bare aiohttp passthrough" if args.passthrough else f"repo: {args.repo}")
        print(f"{args.requests} {what}s: {total:,} instructions; {total // args.requests:,} per {what}"
              + (f"; {chunks} client reads" if args.stream else ""))
        if receiver is not None:
            print(f"spans received by the OTLP receiver: {len(receiver.spans)}")
    finally:
        stop(proc)
        await fake.stop()
        if receiver is not None:
            await receiver.stop()


if __name__ == "__main__":
    asyncio.run(main())
