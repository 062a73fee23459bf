"""Every (client surface x provider) pair end to end, with the official SDKs and exact fake upstreams.

``python tests/translate_matrix.py`` prints the same matrix as a table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from matrix_scenarios import CLIENTS, PROVIDERS, SCENARIOS, environment, run_cell

CELLS = [(s, c, p) for s in SCENARIOS for c in CLIENTS for p in PROVIDERS]


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix")


@pytest.mark.parametrize("scenario,client,provider", CELLS, ids=[f"{s}-{c}-{p}" for s, c, p in CELLS])
async def test_matrix_cell(scenario, client, provider, tmp_path):
    async with environment(str(tmp_path / "ledger.db")) as env:
        await run_cell(env, scenario, client, provider)
