"""Python function calls per request, by file: a count that barely moves with the machine's load.

Instructions (``instructions.py``) move with the timing of the gateway's threads and batches;
the Python calls the event loop makes per request do not, except the ledger writer's batches
(one per 0.5 s, so a few percent between runs). Each call costs about a thousand instructions
here, so this is where a regression on the request path shows first.

Starts the gateway (zero-config defaults) or, with ``--passthrough``, the harness's bare aiohttp
passthrough, with cProfile armed by a signal (through a ``sitecustomize`` on the child's path),
sends warm-up requests, profiles N sequential requests, and prints calls per request: total,
by file, and the busiest functions of the project's own code. Only the event loop's thread is
profiled (the access-log and SQLite threads are not).

    python tests/bench/calls.py                  # 200 non-streaming chat requests
    python tests/bench/calls.py --passthrough    # the bare passthrough, the same requests
    python tests/bench/calls.py --stream
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import pstats
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from instructions import KEY, free_port, send, stop, wait_ready  # noqa: E402
from support.fake_openai import FakeOpenAI  # noqa: E402

#: armed in the child: SIGUSR1 starts the profile, SIGUSR2 stops it and writes it out
SITECUSTOMIZE = '''
import os, signal
if os.environ.get("RELAYGATE_CALLS_OUT"):
    import cProfile
    _profile = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: _profile.enable())
    def _stop(*_):
        _profile.disable()
        _profile.dump_stats(os.environ["RELAYGATE_CALLS_OUT"])
    signal.signal(signal.SIGUSR2, _stop)
'''


def short(filename: str, repo: str) -> str:
    return filename.split("site-packages/")[-1].replace(repo.rstrip("/") + "/", "")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--passthrough", action="store_true")
    ap.add_argument("--repo", default=str(HERE.parents[1]))
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    fake = await FakeOpenAI().start()
    work = Path(tempfile.mkdtemp(prefix="relaygate-calls-"))
    (work / "sitecustomize.py").write_text(SITECUSTOMIZE)
    out = work / "calls.prof"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url, "RELAYGATE_API_KEYS": KEY,
           "RELAYGATE_LEDGER_PATH": str(work / "ledger.db"), "PYTHONPATH": f"{work}:{args.repo}",
           "RELAYGATE_CALLS_OUT": str(out)}
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "proxy", "serve", "--port", str(port)]
    if args.passthrough:
        cmd = [sys.executable, str(HERE / "harness" / "aiohttp_proxy.py"), fake.base_url.removesuffix("/v1"),
               "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=args.repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_ready(url, proc, seconds=60, any_answer=args.passthrough)
        async with aiohttp.ClientSession() as session:
            await send(session, url, args.warmup, args.stream)
            proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.3)
            await send(session, url, args.requests, args.stream)
            await asyncio.sleep(1.0)                  # the ledger's batch and the metrics lands inside
            proc.send_signal(signal.SIGUSR2)
            for _ in range(50):
                if out.exists():
                    break
                await asyncio.sleep(0.1)
    finally:
        stop(proc)
        await fake.stop()

    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    n = args.requests
    by_file: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for (filename, line, name), (_, calls, *_rest) in stats.items():
        where = short(filename, args.repo)
        by_file["(built-ins)" if filename == "~" else where] += calls
        if where.startswith(("proxy/", "plugins/")):
            own[f"{where}:{line} {name}"] += calls
    total = sum(by_file.values())
    print("bare aiohttp passthrough" if args.passthrough else f"repo: {args.repo}")
    print(f"{n} sequential {'stream' if args.stream else 'request'}s: {total / n:.1f} Python calls per request "
          f"(project code: {sum(own.values()) / n:.1f})\n")
    print("| file | calls per request |\n|---|---:|")
    for where, calls in by_file.most_common(args.top):
        print(f"| {where} | {calls / n:.1f} |")
    if own:
        print("\n| project function | calls per request |\n|---|---:|")
        for where, calls in own.most_common(args.top):
            print(f"| {where} | {calls / n:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
