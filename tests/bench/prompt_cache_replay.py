"""What recorded agent sessions cost on an Anthropic model with and without the gateway's prompt-cache help.

    .venv/bin/python tests/bench/prompt_cache_replay.py [--extra-turns 8]

Replays the Claude Code, Codex and Gemini CLI captures (tests/fixtures/clients/captures), each
continued by --extra-turns follow-up turns, through a real gateway to a fake Anthropic that
caches prefixes by hashing (tests/support/fake_prompt_cache.py), once per setting: no help,
automatic breakpoints, and with a per-request line injected at the head of the system prompt
(as agents that put a request id or time there do) without and with the stabiliser. Costs are
the ledger's, at the catalogue's claude-sonnet-4-5 prices. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent)]      # the repository, then tests/ (the fakes)

from support.session_replay import SESSIONS, SETTINGS, replay  # noqa: E402


async def main(extra_turns: int) -> None:
    print(f"{'session':<12} {'setting':<38} {'requests':>8} {'input':>8} {'read':>8} {'written':>8} "
          f"{'cost USD':>10} {'vs off':>8}")
    for session in SESSIONS:
        base = None
        for name, (prompt_cache, noise) in SETTINGS.items():
            with tempfile.TemporaryDirectory() as tmp:
                c = await replay(session, tmp + "/ledger.db", prompt_cache, noise=noise, extra_turns=extra_turns)
            base = c.cost_usd if name == "off" else base
            print(f"{session:<12} {name:<38} {c.requests:>8} {c.input_tokens:>8} {c.cache_read:>8} "
                  f"{c.cache_write:>8} {c.cost_usd:>10.4f} {c.cost_usd / base:>7.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra-turns", type=int, default=8)
    asyncio.run(main(parser.parse_args().extra_turns))
