"""A third-party plugin package, pip-installed, found through the `relaygate` entry-point group.

The example package (tests/example_plugin) is installed into a temporary folder
with pip, exactly as a user installs a plugin; a real `relaygate serve` process
with that folder on its path loads it without any config naming it, runs its
stage on every request, and the ledger rows carry its label.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from serve_helpers import Server, free_port, ledger_rows, write_config
from support.gateway import TEST_KEY

EXAMPLE = Path(__file__).resolve().parents[1] / "example_plugin"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True)
    assert list(target.glob("relaygate_tenant_tag-*.dist-info/entry_points.txt"))
    return target


async def test_an_installed_plugin_adds_its_stage_and_labels_ledger_rows(installed_plugin, fake_openai,
                                                                         tmp_path) -> None:
    port, ledger = free_port(), tmp_path / "ledger.db"
    config = tmp_path / "relaygate.yaml"
    write_config(config, fake_openai.base_url, port, ledger)
    # the plugin's own section: only valid because the installed plugin declares it
    config.write_text(config.read_text() + "tenant_tag:\n  header: x-tenant\n")
    server = Server(config, port, env={"PYTHONPATH": f"{Path(__file__).resolve().parents[2]}:{installed_plugin}"})
    await server.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TEST_KEY}"}) as http:
            body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
            async with http.post(server.url + "/v1/chat/completions", json=body,
                                 headers={"x-tenant": "acme-eu"}) as r:
                assert r.status == 200, await r.text()
            async with http.post(server.url + "/v1/chat/completions", json=body,
                                 headers={"x-tenant": "bad tenant!"}) as r:
                assert r.status == 400
                err = (await r.json())["error"]           # the client's (OpenAI) error shape
                assert err["param"] == "x-tenant" and "x-tenant" in err["message"]
            async with http.post(server.url + "/v1/chat/completions", json=body) as r:
                assert r.status == 200
        server.signal(signal.SIGTERM)                      # a graceful stop flushes the ledger
        assert await server.wait() == 0
    finally:
        await server.stop()
    rows = sorted(ledger_rows(ledger), key=lambda r: r["ts"])
    assert [r["labels"] for r in rows] == ['{"tenant":"acme-eu"}', ""]
    assert len(fake_openai.requests) == 2                  # the refused request never reached the provider


async def test_without_the_plugin_its_section_is_an_error(tmp_path) -> None:
    config = tmp_path / "relaygate.yaml"
    write_config(config, "http://127.0.0.1:9/v1", free_port(), tmp_path / "ledger.db")
    config.write_text(config.read_text() + "tenant_tag:\n  header: x-tenant\n")
    proc = subprocess.run([sys.executable, "-m", "proxy", "check-config", str(config)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2 and "tenant_tag" in proc.stderr
