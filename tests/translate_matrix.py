"""Print the translation conformance matrix: ``.venv/bin/python tests/translate_matrix.py``.

Runs every scenario for every (client surface x provider) cell end to end
(official SDK -> gateway -> fake upstream, validated against the SDKs' models) and prints
pass / FAIL / n/a (declared unsupported) per cell. Exit status 1 on any FAIL.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE / "plugins" / "translate")]

from matrix_scenarios import (CLIENTS, NATIVE, PROVIDERS, SCENARIOS, DeclaredUnsupported,  # noqa: E402
                              environment, run_cell)


async def main(verbose: bool) -> int:
    results: dict[tuple[str, str, str], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with environment(str(Path(tmp) / "ledger.db")) as env:
            for s in SCENARIOS:
                for c in CLIENTS:
                    for p in PROVIDERS:
                        try:
                            await run_cell(env, s, c, p)
                            results[(s, c, p)] = "pass"
                        except DeclaredUnsupported:
                            results[(s, c, p)] = "n/a"
                        except Exception as exc:                  # report every cell
                            results[(s, c, p)] = "FAIL"
                            if verbose:
                                print(f"--- {s} {c}->{p}: {exc!r}", file=sys.stderr)
                                traceback.print_exc()
    cols = [f"{c}->{p}" + ("*" if (c, p) in NATIVE else "") for c in CLIENTS for p in PROVIDERS]
    width = max(len(s) for s in SCENARIOS)
    print("| scenario".ljust(width + 2) + " | " + " | ".join(cols) + " |")
    print("|" + "-" * (width + 1) + "|" + "|".join("-" * (len(x) + 2) for x in cols) + "|")
    for s in SCENARIOS:
        cells = [results[(s, c, p)].ljust(len(col)) for (c, p), col in
                 zip([(c, p) for c in CLIENTS for p in PROVIDERS], cols)]
        print(f"| {s.ljust(width)} | " + " | ".join(cells) + " |")
    print("\n* native passthrough (no translation). Clients: chat = /v1/chat/completions (openai SDK), "
          "responses = /openai/v1/responses, anthropic = /anthropic/v1/messages, gemini = /gemini/v1beta.")
    return 1 if "FAIL" in results.values() else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main("-v" in sys.argv)))
