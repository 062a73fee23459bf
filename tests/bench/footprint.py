"""Footprint of a zero-config gateway: cold start to ``/readyz`` 200, idle RSS, and the imports.

    python tests/bench/footprint.py                  # 5 cold starts (median), idle RSS, slowest imports
    python tests/bench/footprint.py --repo DIR       # another checkout (before/after)

Cold start is given as wall time and as the process's own CPU time (user + system from
``/proc/<pid>/stat`` at the moment ``/readyz`` first answers 200): on a shared machine the wall
time drifts with the load, the CPU time much less. Idle RSS is read 2 s after ready.
``-X importtime`` of the same start-up lists the imports that cost most (cumulative).

Byte code is cached as an installed image has it (pip compiles on install): the gateway runs
with its own ``PYTHONPYCACHEPREFIX`` and one uncounted start writes the cache first.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS          # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def env_for(repo: str, work: str) -> dict[str, str]:
    cache = os.path.join(tempfile.gettempdir(), "relaygate-footprint-pycache")
    env = {**os.environ, "OPENAI_API_KEY": "sk-footprint", "RELAYGATE_API_KEYS": "footprint-key",
           "RELAYGATE_LEDGER_PATH": os.path.join(work, "ledger.db"), "PYTHONPATH": repo,
           "PYTHONPYCACHEPREFIX": cache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(name, None)
    return env


def cold_start(repo: str, extra: list[str] | None = None) -> tuple[float, float, float, str]:
    """(wall s, CPU s, idle RSS MB, stderr) of one start to /readyz 200."""
    port = free_port()
    work = tempfile.mkdtemp(prefix="relaygate-footprint-")
    err_path = os.path.join(work, "stderr")
    t0 = time.perf_counter()
    with open(err_path, "wb") as err:                          # the child keeps its own copy
        proc = subprocess.Popen([sys.executable, *(extra or []), "-m", "proxy", "serve", "--port", str(port)],
                                cwd=repo, env=env_for(repo, work), stdout=subprocess.DEVNULL, stderr=err)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gateway exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.002)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid)
        time.sleep(2)
        rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    return wall, cpu, rss, Path(err_path).read_text(errors="replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=str(HERE.parents[1]))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--imports", type=int, default=15, help="how many of the slowest imports to list")
    args = ap.parse_args()
    cold_start(args.repo)                                      # writes the byte-code cache
    runs = [cold_start(args.repo) for _ in range(args.rounds)]
    walls, cpus, rsss = ([r[i] for r in runs] for i in range(3))
    print(f"repo: {args.repo}")
    print(f"cold start to /readyz 200, median of {args.rounds}: wall {statistics.median(walls) * 1000:.0f} ms "
          f"(min {min(walls) * 1000:.0f}), CPU {statistics.median(cpus) * 1000:.0f} ms (min {min(cpus) * 1000:.0f})")
    print(f"idle RSS 2 s after ready: median {statistics.median(rsss):.1f} MB")
    *_, stderr = cold_start(args.repo, ["-X", "importtime"])
    rows = []
    for m in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", stderr, re.M):
        rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    total = sum(c for c, depth, _ in rows if depth == 1)
    print(f"\nimports: {total / 1000:.0f} ms cumulative at top level (-X importtime, one start); slowest:")
    for cumulative, _depth, name in sorted(rows, reverse=True)[:args.imports]:
        print(f"  {cumulative / 1000:7.1f} ms  {name}")
    loaded = {name.split(".")[0] for _, _, name in rows}
    for lazy in ("google", "asyncpg", "redis", "opentelemetry", "grpc"):
        print(f"  {lazy}: {'IMPORTED' if lazy in loaded else 'not imported'}")


if __name__ == "__main__":
    main()
