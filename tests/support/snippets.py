"""Run a user's snippet the way the user would: Python with the interpreter, curl with bash.

The snippets are written in the tests that run them. Like a user's script, a snippet reads
the gateway's address from ``$RELAYGATE_URL`` and its gateway key from ``$RELAYGATE_TOKEN``,
and names the endpoint it calls.
"""
from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def _run(argv: list[str], url: str, token: str) -> Ran:
    env = {**os.environ, "RELAYGATE_URL": url, "RELAYGATE_TOKEN": token}
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return Ran(proc.returncode or 0, out.decode(), err.decode())


async def run_python(code: str, url: str, token: str) -> Ran:
    return await _run([sys.executable, "-c", code], url, token)


async def run_shell(script: str, url: str, token: str) -> Ran:
    return await _run(["bash", "-c", script], url, token)
