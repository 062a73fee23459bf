"""``relaygate login`` (the real CLI, as a subprocess) against the fake issuer's device flow, then
``relaygate token`` as Claude Code's apiKeyHelper: the token works through the official
Anthropic SDK, and an expiring token is refreshed."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import anthropic
from sso_support import sso_config
from support.gateway import run_gateway, settings_for

RELAYGATE = str(Path(sys.executable).with_name("relaygate"))


async def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(RELAYGATE, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_device_login_then_claude_codes_token_helper(fake_openai, fake_issuer, tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path)}
    settings = settings_for(sso_config(fake_openai.base_url, fake_issuer), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        proc = await asyncio.create_subprocess_exec(RELAYGATE, "login", "--url", gw.url, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        prompt = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert prompt.startswith(f"To sign in, open {fake_issuer.url}/device?user_code=")
        code = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode().rsplit(" ", 1)[-1].strip()
        await asyncio.sleep(1.5)                             # the CLI polls at least once while pending
        fake_issuer.approve(code)                            # the developer signs in in their browser
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err
        grants = [r["grant_type"] for r in fake_issuer.token_requests]
        assert grants.count("urn:ietf:params:oauth:grant-type:device_code") >= 2     # pending, then done
        stored = tmp_path / "cfg" / "relaygate" / "sso.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600

        # what Claude Code runs: the settings' apiKeyHelper through /bin/sh
        status, out, err = await run("agent-env", "claude", "--sso", "--url", gw.url, env=env)
        assert status == 0, err
        assert "ANTHROPIC_AUTH_TOKEN" not in out and f"ANTHROPIC_BASE_URL={gw.url}/anthropic" in out
        helper = json.loads(out.split("<<'RELAYGATE_EOF'\n", 1)[1].split("RELAYGATE_EOF", 1)[0])["apiKeyHelper"]
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", helper, env=env, stdout=asyncio.subprocess.PIPE)
        token = (await proc.communicate())[0].decode().strip()
        assert token.count(".") == 2

        client = anthropic.AsyncAnthropic(api_key=token, base_url=gw.url + "/anthropic", max_retries=0)
        reply = await client.messages.create(model="chat", max_tokens=16,
                                             messages=[{"role": "user", "content": "hi"}])
        assert reply.content
        await gw.flush_ledger()
        assert (await gw.ledger_rows())[-1]["owner"] == "dev@example.com"

        # about to expire: the helper refreshes it with the refresh token
        data = json.loads(stored.read_text())
        data["expires_at"] = 0
        stored.write_text(json.dumps(data))
        status, fresh, err = await run("token", env=env)
        assert status == 0, err
        assert fresh.strip() != token and "refresh_token" in [r["grant_type"] for r in fake_issuer.token_requests]
        client = anthropic.AsyncAnthropic(api_key=fresh.strip(), base_url=gw.url + "/anthropic", max_retries=0)
        assert (await client.messages.create(model="chat", max_tokens=16,
                                             messages=[{"role": "user", "content": "hi"}])).content


async def test_token_without_login_says_what_to_do(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    status, out, err = await run("token", env=env)
    assert status == 1 and "not signed in: run relaygate login" in err and not out
