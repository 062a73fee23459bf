"""Smoke test of an installed Relaygate, as deploy/Dockerfile installs it: no test extras.

Run by ``.ci/run`` with the interpreter of a separate virtualenv that holds only the
package and its runtime dependencies (``pip install .``):

    /tmp/venv/bin/python tests/smoke/installed_smoke.py

It starts fake providers (tests/support, which need only aiohttp and the standard
library), runs ``relaygate serve`` from that virtualenv with a config naming every
provider type (``openai``, ``openai_compatible``, ``azure_openai``, ``anthropic``,
``gemini``, ``vertex`` and a self-deployed Vertex endpoint: ``openai_compatible``
with a ``credentials_file``), sends one request through each, and exits non-zero
naming whatever failed. A dependency that only the test extras pulled in (as
``requests`` once was for Vertex tokens) fails here. Not collected by pytest.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # tests/: the fakes, not the package

import aiohttp
from support.fake_anthropic import FakeAnthropic
from support.fake_gemini import FakeGemini, write_service_account_file
from support.fake_openai import FakeOpenAI

KEY = "rg-smoke-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(fakes: dict[str, Any], service_account: str, ledger: str) -> str:
    import json
    providers = {
        "openai": {"type": "openai", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
        "compatible": {"type": "openai_compatible", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
        "azure": {"type": "azure_openai", "base_url": fakes["azure"].root_url, "api_key": "az-up"},
        "anthropic": {"type": "anthropic", "base_url": fakes["anthropic"].base_url, "api_key": "sk-ant-up"},
        "gemini": {"type": "gemini", "base_url": fakes["gemini"].base_url, "api_key": "g-up"},
        "vertex": {"type": "vertex", "base_url": fakes["gemini"].root_url, "credentials_file": service_account,
                   "location": "us-central1"},
        "self_deployed": {"type": "openai_compatible", "base_url": fakes["deployed"].base_url,
                          "credentials_file": service_account},
    }
    models = {"openai": "gpt-4o-mini", "compatible": "gpt-4o-mini", "azure": "gpt-4o-mini",
              "anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-flash", "vertex": "gemini-2.5-flash",
              "self_deployed": "llama-3"}
    return json.dumps({                                  # JSON is YAML
        "providers": providers,
        "endpoints": {f"m-{p}": {"task": "any", "served_models": [{"name": p, "provider": p, "model": m}]}
                      for p, m in models.items()},
        "keys": [{"name": "smoke", "key": KEY, "owner": "ci"}],
        "storage": {"ledger": {"path": ledger}},
        "server": {"shutdown_delay_seconds": 0},
    })


async def wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(300):
            if proc.returncode is not None:
                raise SystemExit(f"relaygate serve exited with {proc.returncode}")
            try:
                async with s.get(url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("relaygate serve did not become ready in 30 s")


async def call(url: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.post(url + path, json=body,
                                                    headers={"Authorization": f"Bearer {KEY}"}) as r:
        return r.status, await r.json(content_type=None)


CHAT = {"messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}


async def checks(url: str, fakes: dict[str, Any]) -> list[str]:
    failures: list[str] = []

    def expect(what: str, status: int, body: Any, ok: bool) -> None:
        print(f"  {'ok  ' if status == 200 and ok else 'FAIL'} {what}: HTTP {status}")
        if status != 200 or not ok:
            failures.append(f"{what}: HTTP {status} {str(body)[:300]}")

    for provider in ("openai", "compatible", "azure", "anthropic", "gemini", "vertex", "self_deployed"):
        status, body = await call(url, "/v1/chat/completions", {"model": f"m-{provider}", **CHAT})
        text = (body.get("choices") or [{}])[0].get("message", {}).get("content") if isinstance(body, dict) else None
        expect(f"{provider}: chat completion", status, body, bool(text))
    for provider in ("openai", "azure", "anthropic", "gemini"):
        status, body = await call(url, "/v1/responses", {"model": f"m-{provider}", "input": "Hi", "store": False})
        expect(f"{provider}: response", status, body, isinstance(body, dict) and body.get("status") == "completed")
    status, body = await call(url, "/anthropic/v1/messages", {"model": "m-vertex", "max_tokens": 16,
                                                              "messages": [{"role": "user", "content": "Hi"}]})
    expect("vertex: Anthropic Messages client", status, body, isinstance(body, dict) and body.get("type") == "message")
    status, body = await call(url, "/gemini/v1beta/models/m-anthropic:generateContent",
                              {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
    expect("anthropic: Gemini client", status, body, isinstance(body, dict) and bool(body.get("candidates")))
    status, body = await call(url, "/v1/embeddings", {"model": "m-gemini", "input": ["a", "b"]})
    expect("gemini: embeddings", status, body, isinstance(body, dict) and len(body.get("data") or []) == 2)
    bearers = {r.headers.get("authorization", "") for r in fakes["deployed"].requests}
    expect("self-deployed endpoint got a minted Google token", 200, bearers,
           bool(bearers) and all(b.startswith("Bearer ya29.fake-token-") for b in bearers))
    return failures


async def main() -> int:
    fakes: dict[str, Any] = {"openai": await FakeOpenAI().start(), "azure": await FakeOpenAI(prefix="/openai").start(),
                             "deployed": await FakeOpenAI().start(), "anthropic": await FakeAnthropic().start(),
                             "gemini": await FakeGemini().start()}
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        sa = write_service_account_file(Path(tmp) / "sa.json", fakes["gemini"].token_uri)
        cfg = Path(tmp) / "relaygate.yaml"
        cfg.write_text(config(fakes, str(sa), str(Path(tmp) / "ledger.db")))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYGATE_")}
        log = (Path(tmp) / "relaygate.log").open("wb")
        proc = await asyncio.create_subprocess_exec(str(bin_dir / "relaygate"), "serve", "--config", str(cfg),
                                                    "--host", "127.0.0.1", "--port", str(port), env=env, cwd=tmp,
                                                    stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(url, proc)
            print(f"relaygate from {bin_dir}, every provider type:")
            failures = await checks(url, fakes)
        finally:
            proc.terminate()
            await proc.wait()
            for f in fakes.values():
                await f.stop()
            log.close()
        if failures:
            print("relaygate's log:\n" + (Path(tmp) / "relaygate.log").read_text()[-6000:], file=sys.stderr)
    if failures:
        print("installed smoke test FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("installed smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
