"""``relaygate keys ...`` against the configured store, while a gateway serves from the same store."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
import yaml
from keys_support import chat, eventually, keys_config
from plugins.keystore.records import digest
from proxy.cli import main
from support.gateway import run_gateway, settings_for


@pytest.fixture
def config_file(fake_openai, tmp_path):
    cfg = keys_config(fake_openai.base_url)
    cfg["storage"]["ledger"] = {"path": str(tmp_path / "ledger.db"), "flush_interval_seconds": 0.05}
    path = tmp_path / "relaygate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


async def relaygate(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in a thread (it runs its own event loop), return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_cli_key_lifecycle_reaches_a_running_gateway(config_file, capsys, tmp_path):
    settings = settings_for(yaml.safe_load(config_file.read_text()), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as gw:
        code, out, err = await relaygate(capsys, "keys", "create", "--config", str(config_file), "--name", "cli-key",
                                         "--owner", "dana", "--owner-kind", "team", "--team", "data",
                                         "--tag", "a", "--tag", "b", "--endpoint", "chat", "--format", "json")
        assert code == 0, err
        created = json.loads(out)
        secret, key_id = created["secret"], created["id"]
        assert secret.startswith("rg-") and created["endpoints"] == ["chat"] and created["tags"] == ["a", "b"]

        # the gateway's cache picks the new key up by polling the store
        async def works():
            return (await chat(gw.url, secret))[0] == 200
        await eventually(works)

        code, out, _ = await relaygate(capsys, "keys", "list", "--config", str(config_file))
        assert code == 0 and key_id in out and "cli-key" in out and "active" in out
        assert secret not in out and digest(secret) not in out
        code, out, _ = await relaygate(capsys, "keys", "list", "--config", str(config_file), "--format", "json")
        listed = json.loads(out)
        assert [k["id"] for k in listed] == [key_id] and "secret" not in listed[0]
        code, out, _ = await relaygate(capsys, "keys", "show", key_id, "--config", str(config_file))
        assert code == 0 and "dana" in out and secret not in out

        code, out, _ = await relaygate(capsys, "keys", "revoke", key_id, "--config", str(config_file),
                                       "--format", "json")
        assert code == 0 and json.loads(out)["status"] == "revoked"

        async def refused():
            status, body = await chat(gw.url, secret)
            return status == 401 and "revoked" in body["error"]["message"]
        await eventually(refused)

    with sqlite3.connect(tmp_path / "ledger.keys.db") as db:
        assert secret not in "\n".join(db.iterdump())
        audit = db.execute("SELECT actor, actor_kind, action, target FROM relaygate_audit ORDER BY id").fetchall()
    assert [(kind, action, target) for _, kind, action, target in audit] == [
        ("cli", "key.create", key_id), ("cli", "key.revoke", key_id)]
    assert all(actor.startswith("cli:") for actor, *_ in audit)


async def test_cli_expire_and_errors(config_file, capsys):
    code, out, _ = await relaygate(capsys, "keys", "create", "-c", str(config_file), "--name", "x",
                                   "--expires-in", "7d", "--format", "json")
    key_id = json.loads(out)["id"]
    code, out, _ = await relaygate(capsys, "keys", "expire", key_id, "-c", str(config_file), "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "expired"
    code, out, _ = await relaygate(capsys, "keys", "expire", key_id, "-c", str(config_file), "--at",
                                   "2999-01-01T00:00:00Z", "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "active"
    code, _, err = await relaygate(capsys, "keys", "revoke", "key_missing", "-c", str(config_file))
    assert code == 1 and "key_missing" in err
    code, _, err = await relaygate(capsys, "keys", "create", "-c", str(config_file), "--name", "y",
                                   "--expires-in", "soon")
    assert code == 2 and "soon" in err
    code, out, _ = await relaygate(capsys, "keys", "list", "-c", str(config_file), "--status", "revoked")
    assert code == 0 and key_id not in out
