"""The client snippets of the reference (databricks-ai-gateway-query-endpoints.pt.txt), run unchanged.

Each section of the reference has a Python and a curl snippet. Only the
placeholders are filled in: ``https://<ai-gateway-url>`` with the test
gateway, ``<ai-gateway-endpoint>`` with an endpoint name, and the token comes
from ``$DATABRICKS_TOKEN`` as the snippets expect. Both run as subprocesses,
exactly as a user would run them.
"""
from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from .specs import SHARED_DIR

REFERENCE = SHARED_DIR / "reference" / "databricks-ai-gateway-query-endpoints.pt.txt"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def snippets(section_title: str) -> tuple[str, str]:
    """(python, curl) of the reference section whose title line is *section_title*."""
    lines = REFERENCE.read_text().splitlines()
    start = lines.index(section_title)
    py = next(i for i in range(start, len(lines)) if lines[i].startswith(("import ", "from ")))
    curl = next(i for i in range(py, len(lines)) if lines[i].startswith("curl"))
    end = next(i for i in range(curl, len(lines)) if lines[i].startswith("https://<ai-gateway-url>"))
    return "\n".join(lines[py:curl]) + "\n", "\n".join(lines[curl:end + 1]) + "\n"


def fill(snippet: str, url: str, endpoint: str) -> str:
    return snippet.replace("https://<ai-gateway-url>", url).replace("<ai-gateway-endpoint>", endpoint)


async def _run(argv: list[str], token: str) -> Ran:
    env = {**os.environ, "DATABRICKS_TOKEN": token}
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return Ran(proc.returncode or 0, out.decode(), err.decode())


async def run_python(code: str, token: str) -> Ran:
    return await _run([sys.executable, "-c", code], token)


async def run_shell(script: str, token: str) -> Ran:
    return await _run(["bash", "-c", script], token)
