"""Hot reload: SIGHUP with a valid and an invalid config during traffic, and the file-change poll."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
from resilience_helpers import AUTH, CHAT, post_chat
from serve_helpers import Server, free_port, write_config
from support.behavior import Behavior
from support.gateway import metric_value, openai_config, run_gateway, settings_for
import yaml

from proxy import reload


async def _eventually(check, timeout: float = 10) -> bool:
    for _ in range(int(timeout / 0.1)):
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_sighup_swaps_a_valid_config_and_keeps_the_old_one_on_an_invalid_one(fake_openai, tmp_path):
    fake_openai.always(Behavior(chunks=10, chunk_delay=0.05))
    port, cfg = free_port(), tmp_path / "c.yaml"
    write_config(cfg, fake_openai.base_url, port, tmp_path / "l.db")
    server = await Server(cfg, port).start()
    statuses: list[int] = []
    stop = asyncio.Event()
    try:
        async def traffic() -> None:                        # streams in flight across both reloads
            async with aiohttp.ClientSession() as s:
                while not stop.is_set():
                    async with s.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                                      headers=AUTH) as r:
                        body = await r.read()
                        statuses.append(r.status if body.rstrip().endswith(b"[DONE]") else -1)

        load = [asyncio.create_task(traffic()) for _ in range(4)]
        await asyncio.sleep(0.3)
        assert (await post_chat(server.url, {**CHAT, "model": "chat2"}))[0] == 404

        write_config(cfg, fake_openai.base_url, port, tmp_path / "l.db", endpoints=["chat", "chat2"])
        server.signal(signal.SIGHUP)
        assert await _eventually(lambda: _status_is(server.url, "chat2", 200))

        cfg.write_text(cfg.read_text().replace("type: openai", "type: no-such-provider"))
        server.signal(signal.SIGHUP)

        async def failure_counted() -> bool:
            async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as r:
                return metric_value(await r.text(), "relaygate_config_reloads_total", result="failure") == 1
        assert await _eventually(failure_counted)
        assert (await post_chat(server.url, {**CHAT, "model": "chat2"}))[0] == 200   # old config kept
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*load)
        assert statuses and set(statuses) == {200}           # no request failed across the reloads
        async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as r:
            assert metric_value(await r.text(), "relaygate_config_reloads_total", result="success") == 1
        server.signal(signal.SIGTERM)
        assert await server.wait() == 0
        assert "no-such-provider" in await server.output()   # the rejection was logged
    finally:
        stop.set()
        await server.stop()


async def _status_is(url: str, model: str, status: int) -> bool:
    return (await post_chat(url, {**CHAT, "model": model}))[0] == status


async def test_a_changed_config_file_is_picked_up_by_the_poll(fake_openai, tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg = openai_config(fake_openai.base_url)
    cfg["storage"] = {"ledger": {"path": str(tmp_path / "l.db")}}
    cfg_path.write_text(yaml.safe_dump(cfg))
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        watcher = asyncio.create_task(reload.watch(gw.gateway, str(cfg_path), 0.05))
        try:
            old_runtime = gw.gateway.runtime
            cfg["endpoints"]["chat2"] = cfg["endpoints"]["chat"]
            await asyncio.sleep(0.02)
            cfg_path.write_text(yaml.safe_dump(cfg))
            assert await _eventually(lambda: _status_is(gw.url, "chat2", 200), timeout=5)
            assert gw.gateway.runtime is not old_runtime
            assert gw.gateway.settings.storage.ledger.path == str(tmp_path / "l.db")
            cfg_path.write_text("endpoints: [not, a, mapping")                     # broken YAML
            await asyncio.sleep(0.3)
            assert await _status_is(gw.url, "chat2", 200)
            text = await gw.metrics()
            assert metric_value(text, "relaygate_config_reloads_total", result="failure") == 1
            assert metric_value(text, "relaygate_config_reloads_total", result="success") == 1
        finally:
            watcher.cancel()
