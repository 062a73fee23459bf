#!/usr/bin/env python3
"""Benchmark Relaygate beside the bare aiohttp passthrough (and nginx) in one run.

Uses the load harness in tests/bench/harness (README there): its fake upstream, wrk and
the streaming client. Prints the harness's tables and writes them under
tests/bench/results/. Numbers, not assertions.

    python tests/bench/run_bench.py                  # gateway (1 worker) + aiohttp-1w + nginx
    python tests/bench/run_bench.py --workers 2      # also compare against aiohttp-2w
    python tests/bench/run_bench.py --quick          # 1 round, a few scenarios
    python tests/bench/run_bench.py --litellm        # also LiteLLM (installed per tests/bench/harness/README.md)

Needs wrk and nginx-light from Debian (apt-get install -y wrk nginx-light);
without nginx the nginx column is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "bench" / "harness"
WORK = Path("/tmp/bench-work")
GW_PORT = 18400


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")


def start_gateway(workers: int, tmp: Path, access_log: bool = True) -> subprocess.Popen[bytes]:
    """The zero-config gateway as users run it: access log on (its lines go to a file here)."""
    env = {
        **os.environ,
        "OPENAI_BASE_URL": "http://127.0.0.1:18100/v1",
        "OPENAI_API_KEY": "sk-upstream",
        "RELAYGATE_API_KEYS": "sk-bench",
        "RELAYGATE_LEDGER_PATH": str(tmp / "ledger.db"),
    }
    if not access_log:
        env["RELAYGATE_LOG_LEVEL"] = "WARNING"
    cmd = [sys.executable, "-m", "proxy", "serve", "--port", str(GW_PORT), "--workers", str(workers)]
    with open(tmp / "gateway.log", "wb") as log:       # the child keeps its own copy
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stderr=log)
    wait_ready(f"http://127.0.0.1:{GW_PORT}/readyz")
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="1 round of chat_c1, chat_c64, stream_c1, stream_tput_c64")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scenarios", help="passed to the harness")
    ap.add_argument("--litellm", action="store_true",
                    help="also run LiteLLM 1.109.1 (install it first as tests/bench/harness/README.md says)")
    ap.add_argument("--no-access-log", action="store_true", help="the access log off (not the default)")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more harness arguments")
    args = ap.parse_args()

    systems = ["upstream", "aiohttp-1w" if args.workers == 1 else "aiohttp-2w"]
    if shutil.which("nginx"):
        systems.append("nginx")
    if args.litellm:
        systems.append("litellm-1w" if args.workers == 1 else "litellm-2w")
    subprocess.run([sys.executable, str(BENCH / "systems.py"), "start", *systems], check=True)
    out = ROOT / "tests" / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="relaygate-bench-"))
    gw = start_gateway(args.workers, tmp, access_log=not args.no_access_log)
    try:
        only = ",".join(s for s in systems if s != "upstream")
        cmd = [sys.executable, str(BENCH / "run.py"), "--systems-json", str(WORK / "systems.json"),
               "--only", only, "--target", f"relaygate=http://127.0.0.1:{GW_PORT}",
               "--pid", f"relaygate={gw.pid}", "--model-prefix", "relaygate=openai/",
               "--out", str(out), "--label", f"relaygate-{args.workers}w",
               "--rounds", str(1 if args.quick else args.rounds)]
        if args.quick:
            cmd += ["--scenarios", "chat_c1,chat_c64,stream_c1,stream_tput_c64"]
        elif args.scenarios:
            cmd += ["--scenarios", args.scenarios]
        cmd += args.extra
        print("+", " ".join(cmd), flush=True)
        return subprocess.run(cmd).returncode
    finally:
        os.killpg(gw.pid, signal.SIGTERM)
        gw.wait(timeout=30)
        subprocess.run([sys.executable, str(BENCH / "systems.py"), "stop"])
        rows = tmp / "ledger.db"
        if rows.exists():
            import sqlite3
            with sqlite3.connect(rows) as db:
                n = db.execute("SELECT count(*) FROM ledger").fetchone()[0]
            print(json.dumps({"ledger_rows_written": n}))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
