"""What one request touches: project files run, hook calls (and how many did nothing), core↔plugin crossings.

Serves one warm-up and then one traced request through an in-process gateway in
zero-config mode (every default plugin) against the test suite's fake OpenAI
upstream, with ``sys.setprofile`` recording every Python call made while the
traced request runs.

    python tests/bench/request_path.py                 # a streaming unified chat request
    python tests/bench/request_path.py --no-stream
    python tests/bench/request_path.py --repo DIR      # another checkout (before/after a change)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent


def folder_of(filename: str, repo: Path) -> str | None:
    try:
        rel = Path(filename).resolve().relative_to(repo)
    except ValueError:
        return None
    return rel.parts[0] if rel.parts and rel.parts[0] in ("proxy", "plugins") else None


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=str(HERE.parents[1]))
    ap.add_argument("--no-stream", action="store_true")
    args = ap.parse_args()
    repo = Path(args.repo).resolve()
    sys.path.insert(0, str(repo))
    sys.path.insert(1, str(HERE.parent))                      # the fakes of this checkout's tests
    import aiohttp
    from aiohttp import web
    from support.fake_openai import FakeOpenAI

    from proxy.app import make_app
    from proxy.zeroconf import settings_from_env

    fake = await FakeOpenAI().start()
    work = tempfile.mkdtemp(prefix="relaygate-path-")
    env = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": fake.base_url, "RELAYGATE_API_KEYS": "k",
           "RELAYGATE_LEDGER_PATH": os.path.join(work, "ledger.db")}
    os.environ.update(env)
    app = make_app(settings_from_env(dict(os.environ)))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]            # type: ignore[union-attr]
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "stream": not args.no_stream}
    calls: list[tuple[str, str, str | None]] = []             # (file, function, caller's folder)

    def profile(frame, event, _arg):  # type: ignore[no-untyped-def]
        if event == "call":
            code = frame.f_code
            if folder_of(code.co_filename, repo):
                back = frame.f_back
                calls.append((code.co_filename, code.co_name,
                              folder_of(back.f_code.co_filename, repo) if back else None))

    async with aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as http:
        for traced in (False, True):
            if traced:
                sys.setprofile(profile)
            async with http.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body) as r:
                await r.read()
                assert r.status == 200
            await asyncio.sleep(0.05)
            sys.setprofile(None)
    await runner.cleanup()
    await fake.stop()

    files = Counter(f for f, _, _ in calls)
    hooks = [(f, fn) for f, fn, _ in calls if fn.startswith("relaygate_")]
    crossings = sum(1 for f, _, caller in calls if caller and caller != folder_of(f, repo))
    # the same, leaving out calls into the core's small value modules (typed state, usage, errors)
    leaf = ("stash.py", "usage.py", "errors.py", "checks.py", "context.py")
    stage_crossings = sum(1 for f, _, caller in calls
                          if caller and caller != folder_of(f, repo) and not f.endswith(leaf))
    print(f"repo: {repo}")
    print(f"project files run: {len(files)} "
          f"(proxy/ {sum(1 for f in files if folder_of(f, repo) == 'proxy')}, "
          f"plugins/ {sum(1 for f in files if folder_of(f, repo) == 'plugins')})")
    print(f"hook implementation calls: {len(hooks)}")
    print(f"calls that cross between proxy/ and plugins/: {crossings} ({stage_crossings} not into value modules)")
    for f in sorted(files, key=lambda f: str(Path(f).relative_to(repo))):
        print(f"  {Path(f).relative_to(repo)}: {files[f]} calls")


if __name__ == "__main__":
    asyncio.run(main())
