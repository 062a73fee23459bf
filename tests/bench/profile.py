"""Where each request's instructions go, stage by stage (callgrind), with optional flame output.

Runs the zero-config gateway (access log on, SQLite ledger, metrics, every default plugin)
under callgrind through ``stages/launcher.py``, which wraps the pipeline's stages with
markers: each marker dumps callgrind's counts since the previous one under the name of the
stage that just ended (``CALLGRIND_DUMP_STATS_AT`` from a 1-function C helper built here with
gcc). Requests are sequential, so everything between two markers (event-loop work, the
SQLite thread) belongs to one stage. The markers' own cost is calibrated and subtracted.

    python tests/bench/profile.py                    # 100 non-streaming chat requests
    python tests/bench/profile.py --stream           # 100 streams of 20 chunks
    python tests/bench/profile.py --repo DIR         # another checkout (before/after)
    python tests/bench/profile.py --flame out.html   # also a pyinstrument profile (no valgrind;
                                                     # pip install -e ".[bench]")

Needs valgrind (with its headers: Debian's ``valgrind`` package) and gcc.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))
from instructions import KEY, free_port, send, stop, wait_ready  # noqa: E402
from support.fake_openai import FakeOpenAI  # noqa: E402

CALIBRATION_MARKS = 1000


def build_probe(work: str) -> str:
    so = os.path.join(work, "probe.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", so, str(HERE / "stages" / "probe.c")], check=True)
    return so


def read_dumps(out_dir: str) -> tuple[dict[str, int], dict[str, int]]:
    """Instructions and dump counts per stage name, over every marker dump in *out_dir*."""
    totals: dict[str, int] = defaultdict(int)
    dumps: dict[str, int] = defaultdict(int)
    for f in Path(out_dir).glob("callgrind.out*"):
        text = f.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (.*)$", text, re.M)
        summary = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
        if trigger and summary:
            totals[trigger.group(1).strip()] += int(summary.group(1))
            dumps[trigger.group(1).strip()] += 1
    return totals, dumps


async def measure(args: argparse.Namespace) -> None:
    fake = await FakeOpenAI().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="relaygate-profile-")
    so = build_probe(work)
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url,
           "RELAYGATE_API_KEYS": KEY, "RELAYGATE_LEDGER_PATH": os.path.join(work, "ledger.db"),
           "PYTHONPATH": args.repo}
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        env.pop(name, None)
    cmd = ["valgrind", "--tool=callgrind", "--dump-instr=no", f"--callgrind-out-file={work}/callgrind.out.%p",
           sys.executable, str(HERE / "stages" / "launcher.py"), so, "serve", "--port", str(port)]
    with open(os.path.join(work, "gateway.log"), "wb") as log:      # the child keeps its own copy
        proc = subprocess.Popen(cmd, cwd=args.repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            await wait_ready(url, proc, 2400)
        except SystemExit:
            print(Path(work, "gateway.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        async with aiohttp.ClientSession() as session:
            await send(session, url, args.warmup, args.stream)
            await asyncio.sleep(1.5)                       # the warm-up's ledger batch is written
            for f in Path(work).glob("callgrind.out*"):
                f.unlink()
            await send(session, url, args.requests, args.stream)
            await asyncio.sleep(1.5)                       # this run's ledger batch lands in the window
            proc.send_signal(signal.SIGUSR2)               # the calibration markers
            await asyncio.sleep(3)
        totals, dumps = read_dumps(work)
    finally:
        stop(proc)
        await fake.stop()
    per_mark = totals.pop("calibrate", 0) // max(1, dumps.pop("calibrate", 0))
    n = args.requests
    rows = {stage: max(0, total - dumps[stage] * per_mark) for stage, total in totals.items()}
    whole = sum(rows.values())
    what = "stream" if args.stream else "request"
    print(f"repo: {args.repo}")
    print(f"{n} sequential {what}s; marker cost {per_mark:,} instructions (subtracted)\n")
    print(f"| stage | instructions per {what} | share |")
    print("|---|---:|---:|")
    for stage, count in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {count // n:,} | {100 * count / whole:.1f} % |")
    print(f"| **total** | **{whole // n:,}** | |")


def flame(args: argparse.Namespace) -> None:
    """A pyinstrument HTML profile of the same sequential requests, in process (no valgrind)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--flame needs pyinstrument (pip install pyinstrument)") from None

    async def run() -> None:
        from aiohttp import web
        sys.path.insert(0, args.repo)
        from proxy.app import make_app
        from proxy.zeroconf import settings_from_env
        fake = await FakeOpenAI().start()
        work = tempfile.mkdtemp(prefix="relaygate-flame-")
        os.environ.update({"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url,
                           "RELAYGATE_API_KEYS": KEY, "RELAYGATE_LEDGER_PATH": os.path.join(work, "l.db")})
        runner = web.AppRunner(make_app(settings_from_env(dict(os.environ))))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            await send(session, url, args.warmup, args.stream)
            with Profiler(async_mode="disabled") as prof:
                await send(session, url, args.requests, args.stream)
        Path(args.flame).write_text(prof.output_html())
        print(f"pyinstrument profile: {args.flame}")
        await runner.cleanup()
        await fake.stop()
    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--stream", action="store_true", help="streaming requests (20 chunks each)")
    ap.add_argument("--repo", default=str(HERE.parents[1]), help="checkout whose gateway is measured")
    ap.add_argument("--flame", metavar="HTML", help="also write a pyinstrument profile (in process)")
    args = ap.parse_args()
    asyncio.run(measure(args))
    if args.flame:
        flame(args)


if __name__ == "__main__":
    main()
