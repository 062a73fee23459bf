"""What real clients sent to a gateway: ``tests/fixtures/clients`` (its README says how it was captured).

``captures/<client>.jsonl`` holds one request a line: method, path, query, headers in arrival
order (secrets masked), the decoded JSON body and a summary of the reply the client got.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CLIENTS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
CAPTURES = CLIENTS_DIR / "captures"


def load_capture(name: str) -> list[dict[str, Any]]:
    """Every captured request of one client (``name`` without ``.jsonl``), in order."""
    with open(CAPTURES / f"{name}.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]
