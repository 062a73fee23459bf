"""Memory per open stream: RSS of the gateway (or the bare passthrough) idle and with N slow streams open.

Starts the fake OpenAI upstream of the test suite in this process (streams of 20 text chunks,
500 ms apart: ~10 s each, like the harness's ``mem_1000`` scenario), the zero-config gateway
(or ``--passthrough``: the harness's bare aiohttp proxy) in a subprocess, warms it up, reads its
RSS, opens N streams at once, samples RSS until every stream has ended, and prints idle RSS,
peak RSS and (peak - idle) / N.

    python tests/bench/stream_memory.py                     # 1000 streams through the gateway
    python tests/bench/stream_memory.py --passthrough       # the same through the bare proxy
    python tests/bench/stream_memory.py --tracemalloc       # + the gateway's Python allocations
                                                            #   held per open stream, by line

``--tracemalloc`` turns tracemalloc on in the gateway after the warm-up (slower, more RSS: read
its own table, not the RSS figures) and prints the lines whose allocations since then are still
held while every stream is open (a thread in the gateway
watches for trigger files: the first starts tracing, the second takes the snapshot).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))                  # tests/ on the path: the fakes
from support.behavior import Behavior  # noqa: E402
from support.fake_openai import FakeOpenAI  # noqa: E402

from instructions import KEY, free_port, stop, wait_ready  # noqa: E402

SNAPSHOTTER = """
import os, sys, threading, time, tracemalloc
def watch(path):                  # {path}.go1 starts tracing, {path}.go2 writes what is held
    while not os.path.exists(path + ".go1"):
        time.sleep(0.2)
    tracemalloc.start(1)
    open(path + ".1", "w").close()
    while not os.path.exists(path + ".go2"):
        time.sleep(0.2)
    tracemalloc.take_snapshot().dump(path + ".2.tmp")
    os.rename(path + ".2.tmp", path + ".2")
threading.Thread(target=watch, args=(sys.argv[1],), daemon=True).start()
sys.argv = ["relaygate", *sys.argv[2:]]
from proxy.cli import main
sys.exit(main())
"""


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def one_stream(session: aiohttp.ClientSession, url: str, opened: list[int]) -> bool:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}],
            "max_tokens": 20, "stream": True}
    async with session.post(url + "/v1/chat/completions", json=body,
                            headers={"Authorization": f"Bearer {KEY}"}) as r:
        if r.status != 200:
            return False
        last = b""
        async for chunk in r.content.iter_any():
            if not last and chunk:
                opened[0] += 1
            last = chunk or last
        return b"[DONE]" in last


async def snapshot(path: str, n: int) -> None:
    open(f"{path}.go{n}", "w").close()
    for _ in range(1200):
        if os.path.exists(f"{path}.{n}"):
            return
        await asyncio.sleep(0.25)


def compare(path: str, streams: int, top: int) -> None:
    import tracemalloc
    busy = tracemalloc.Snapshot.load(f"{path}.2")
    stats = busy.statistics("lineno")
    total = sum(s.size for s in stats)
    print(f"tracemalloc: {total / streams / 1024:.1f} KB of Python allocations per open stream; top lines:")
    for s in stats[:top]:
        frame = s.traceback[0]
        print(f"  {s.size / streams:8.0f} B/stream {s.count / streams:6.2f} blocks/stream  "
              f"{frame.filename.replace(str(HERE.parents[1]) + '/', '')}:{frame.lineno}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--ramp", type=float, default=2.0, help="seconds over which the streams are opened")
    ap.add_argument("--repo", default=str(HERE.parents[1]), help="checkout whose gateway is measured")
    ap.add_argument("--passthrough", action="store_true", help="measure the harness's bare aiohttp passthrough")
    ap.add_argument("--tracemalloc", action="store_true", help="the gateway's Python allocations per open stream")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    fake = await FakeOpenAI().start()
    fake.always(Behavior(chunks=20, text="tok " * 20, chunk_delay=0.5))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="relaygate-mem-")
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url,
           "RELAYGATE_API_KEYS": KEY, "RELAYGATE_LEDGER_PATH": os.path.join(work, "ledger.db"),
           "PYTHONPATH": args.repo}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("GEMINI_API_KEY", None)
    snap = os.path.join(work, "snapshot")
    cmd = [sys.executable, "-m", "proxy", "serve", "--port", str(port)]
    if args.tracemalloc:
        cmd = [sys.executable, "-c", SNAPSHOTTER, snap, "serve", "--port", str(port)]
    if args.passthrough:
        cmd = [sys.executable, str(HERE / "harness" / "aiohttp_proxy.py"),
               fake.base_url.removesuffix("/v1"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=args.repo, env=env, stdout=subprocess.DEVNULL,
                            stderr=None if os.environ.get("BENCH_DEBUG") else subprocess.DEVNULL)
    try:
        await wait_ready(url, proc, any_answer=args.passthrough)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
            fast = Behavior(chunks=20, text="tok " * 20, chunk_delay=0.0, times=50)
            fake.script(fast)
            await asyncio.gather(*(one_stream(session, url, [0]) for _ in range(50)))
            await asyncio.sleep(2.0)
            idle = rss_kb(proc.pid)
            if args.tracemalloc:
                await snapshot(snap, 1)
            opened = [0]

            async def staggered(i: int) -> bool:
                await asyncio.sleep(args.ramp * i / args.streams)
                return await one_stream(session, url, opened)
            tasks = [asyncio.ensure_future(staggered(i)) for i in range(args.streams)]
            peak, peak_open, snapped = idle, 0, False
            while not all(t.done() for t in tasks):
                await asyncio.sleep(0.1)
                rss = rss_kb(proc.pid)
                if rss > peak:
                    peak, peak_open = rss, opened[0]
                if args.tracemalloc and not snapped and opened[0] >= args.streams:
                    snapped = True
                    await snapshot(snap, 2)
            ok = sum(1 for t in tasks if not t.exception() and t.result())
        what = "bare aiohttp passthrough" if args.passthrough else f"gateway, repo {args.repo}"
        print(what + (" (tracemalloc on)" if args.tracemalloc else ""))
        print(f"{ok}/{args.streams} streams complete; RSS idle {idle / 1024:.1f} MB, peak {peak / 1024:.1f} MB "
              f"(with {peak_open} open); {(peak - idle) / args.streams:.1f} KB per open stream")
        if args.tracemalloc and snapped:
            compare(snap, args.streams, args.top)
    finally:
        stop(proc)
        await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
