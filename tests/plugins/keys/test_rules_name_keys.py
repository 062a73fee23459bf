"""Rules and budgets name a key by its name or its id, config keys and stored keys alike.

The first test is README's worked example ("Rate limits and budgets"), taken from the README
itself: ``relaygate keys create --name ml-team ...`` then ``{scope: key, match: ml-team}``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from keys_support import Admin, eventually, keys_config
from proxy.cli import main
from support.behavior import Behavior, Usage
from support.gateway import TEST_KEY, run_gateway, settings_for

README = Path(__file__).resolve().parents[3] / "README.md"


def worked_example() -> tuple[list[str], dict[str, Any]]:
    """The ``relaygate keys create`` arguments and the ``limits:`` section of README's worked example."""
    text = README.read_text()
    section = text[text.index("Worked example"):]
    command = re.search(r"```sh\n(.*?)```", section, re.S).group(1)            # type: ignore[union-attr]
    config = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)           # type: ignore[union-attr]
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:3] == ["relaygate", "keys", "create"]
    return argv[1:], yaml.safe_load(config)["limits"]


async def relaygate(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def post(url: str, secret: str, model: str = "chat") -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(
            url + "/v1/chat/completions", json={"model": model, "max_tokens": 5,
                                                "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {secret}"}) as r:
        return r.status, await r.json(content_type=None)


def config_file(tmp_path: Path, base_url: str, limits: dict[str, Any]) -> Path:
    cfg = keys_config(base_url)
    cfg["storage"]["ledger"] = {"path": str(tmp_path / "ledger.db"), "flush_interval_seconds": 0.05}
    cfg["limits"] = limits
    path = tmp_path / "relaygate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


async def test_readme_worked_example_limits_the_key_created_by_name(fake_openai, tmp_path, capsys):
    argv, limits = worked_example()
    # The README runs it on Redis; the rule matching is the same in process (the Redis runs are
    # tests/plugins/limits/test_limits_redis_replicas.py and test_budget_reservations_replicas.py).
    limits = {k: v for k, v in limits.items() if not k.startswith("redis")} | {"backend": "memory"}
    path = config_file(tmp_path, fake_openai.base_url, limits)

    capsys.readouterr()
    assert await relaygate("check-config", str(path)) == 0
    assert "limits.rules[2].match names key 'ml-team', which no key has" in capsys.readouterr().err

    assert await relaygate(*argv, "--config", str(path), "--format", "json") == 0
    created = json.loads(capsys.readouterr().out)
    assert created["name"] == "ml-team" and created["id"].startswith("key_")
    assert await relaygate("check-config", str(path)) == 0
    assert "warning" not in capsys.readouterr().err          # the key exists now

    settings = settings_for(yaml.safe_load(path.read_text()), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as gw:
        statuses = [(await post(gw.url, created["secret"]))[0] for _ in range(61)]
        assert statuses.count(200) == 60 and statuses[-1] == 429      # match: ml-team -> 60/min, not 600
        status, body = await post(gw.url, created["secret"])
        assert status == 429
        assert "requests per minute limit of key 'ml-team' (60/min)" in body["error"]["message"]
        assert created["secret"] not in json.dumps(body)
        # the config key (alice-key) gets the "every key" default of 600/min, not ml-team's 60
        assert all([(await post(gw.url, TEST_KEY))[0] == 200 for _ in range(65)])


async def test_admin_created_keys_named_in_rules_and_budgets_by_name_or_id(fake_openai, tmp_path):
    fake_openai.always(Behavior(usage=Usage(input_tokens=1_000_000, output_tokens=0)))   # $1 a call
    limits = {"rules": [{"scope": "key", "match": "by-name", "requests_per_minute": 2},
                        {"scope": "endpoint_key", "match": "chat", "key": "later", "requests_per_minute": 1}],
              "budgets": [{"scope": "key", "match": "budgeted", "usd_per_day": 1.5}]}
    cfg = keys_config(fake_openai.base_url) | {"limits": limits}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        admin = Admin(gw.url)
        status, listed = await admin.call("GET", "/keys")
        assert status == 200 and sorted(w.split(" names key ")[1].split(",")[0] for w in listed["warnings"]) == \
            ["'budgeted'", "'by-name'", "'later'"]

        by_name = await admin.create(name="by-name")
        assert [(await post(gw.url, by_name["secret"]))[0] for _ in range(3)] == [200, 200, 429]

        budgeted = await admin.create(name="budgeted")
        assert [(await post(gw.url, budgeted["secret"]))[0] for _ in range(2)] == [200, 200]   # $1, then $2
        status, body = await post(gw.url, budgeted["secret"])
        assert status == 403 and "daily budget of key 'budgeted' ($1.50) exhausted" in body["error"]["message"]

        later = await admin.create(name="later", endpoints=["chat", "other-ep"])
        assert later["warnings"] == []                                        # every named key exists now
        assert [(await post(gw.url, later["secret"]))[0] for _ in range(2)] == [200, 429]
        assert (await post(gw.url, later["secret"], model="other-ep"))[0] == 200   # endpoint_key: chat only


async def test_a_rule_may_name_a_stored_key_by_its_id(fake_openai, tmp_path):
    # Keys are created first, then the config that names one by id is loaded (a restart or reload).
    cfg = keys_config(fake_openai.base_url)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        created = await Admin(gw.url).create(name="shared-name")
        twin = await Admin(gw.url).create(name="shared-name")
    cfg["limits"] = {"rules": [{"scope": "key", "match": created["id"], "requests_per_minute": 1}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async def loaded() -> bool:
            return (await post(gw.url, created["secret"]))[0] == 200
        await eventually(loaded)
        assert (await post(gw.url, created["secret"]))[0] == 429
        assert [(await post(gw.url, twin["secret"]))[0] for _ in range(3)] == [200] * 3   # same name, other id
