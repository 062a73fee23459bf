"""Guard tests: every hook is documented and implemented; plugins load from the config."""

from __future__ import annotations

import importlib
import inspect
import sys
import types

import aiohttp
import pytest
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from proxy import hookimpl, hookspecs
from proxy.errors import RequestRejected
from proxy.plugins import DEFAULT_PLUGINS, make_plugin_manager

HOOKS = [name for name, f in vars(hookspecs).items() if name.startswith("relaygate_") and inspect.isfunction(f)]


def test_every_hook_is_documented_with_its_call_style():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40, f"{name} needs a docstring"


#: built-in plugins that register themselves at start-up, only when configured (tracing's per-request hooks)
STARTUP_PLUGINS = ("plugins.tracing.spans",)


def test_every_hook_has_a_builtin_implementation():
    pm = make_plugin_manager(entry_points=False)
    for name in STARTUP_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    missing = [h for h in HOOKS if not getattr(pm.hook, h).get_hookimpls()]
    assert missing == []


def test_default_plugins_are_unique_modules():
    assert len(set(DEFAULT_PLUGINS)) == len(DEFAULT_PLUGINS)


def test_unknown_plugin_in_config_fails_clearly():
    with pytest.raises(ImportError, match="no_such_plugin_module"):
        make_plugin_manager(["no_such_plugin_module"], entry_points=False)


async def test_plugin_from_config_joins_the_pipeline(fake_openai, tmp_path, monkeypatch):
    module = types.ModuleType("rg_test_policy_plugin")

    @hookimpl
    async def relaygate_validate_request(ctx):
        if "forbidden" in str(ctx.body.get("messages")):
            raise RequestRejected("the word 'forbidden' is not allowed", param="messages")

    module.relaygate_validate_request = relaygate_validate_request
    monkeypatch.setitem(sys.modules, "rg_test_policy_plugin", module)
    config = openai_config(fake_openai.base_url)
    config["plugins"] = ["rg_test_policy_plugin"]
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {TEST_KEY}"}
        body = {"model": "chat", "messages": [{"role": "user", "content": "a forbidden word"}]}
        async with http.post(gw.url + "/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status == 400
            assert (await r.json())["error"]["param"] == "messages"
        body["messages"][0]["content"] = "fine"
        async with http.post(gw.url + "/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status == 200
    assert len(fake_openai.requests) == 1


async def test_a_refusing_async_hook_leaves_no_coroutine_unawaited():
    from proxy.hooks import _await_all, _first_non_none

    ran: list[str] = []

    async def refuse():
        raise RequestRejected("no")

    async def later():
        ran.append("later")

    pending = later()
    with pytest.raises(RequestRejected):
        await _await_all([refuse(), pending])
    assert pending.cr_frame is None and ran == []       # closed, not left dangling

    async def answer(v):
        return v

    assert await _first_non_none([None, answer("a"), answer("b")]) == "a"


async def test_a_hook_for_one_format_is_not_called_for_others(fake_openai, tmp_path, monkeypatch):
    """``@for_apis``: the stage skips the implementation for other formats; every stage it marks."""
    from proxy.hooks import for_apis

    module = types.ModuleType("rg_test_one_format_plugin")
    seen: list[tuple[str, str]] = []

    @hookimpl
    @for_apis("openai.responses")
    def relaygate_validate_request(ctx):
        seen.append(("validate", ctx.api.id))

    @hookimpl
    @for_apis("openai.responses")
    def relaygate_record_usage(ctx, record):
        seen.append(("record", ctx.api.id))

    @hookimpl
    @for_apis("openai.chat")
    def relaygate_request_finished(ctx):
        seen.append(("finished", ctx.api.id))

    for fn in (relaygate_validate_request, relaygate_record_usage, relaygate_request_finished):
        setattr(module, fn.__name__, fn)
    monkeypatch.setitem(sys.modules, "rg_test_one_format_plugin", module)
    config = openai_config(fake_openai.base_url)
    config["plugins"] = ["rg_test_one_format_plugin"]
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {TEST_KEY}"}
        async with http.post(gw.url + "/v1/chat/completions", headers=headers,
                             json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]}) as r:
            assert r.status == 200
        assert seen == [("finished", "openai.chat")]
        async with http.post(gw.url + "/v1/responses", headers=headers, json={"model": "chat", "input": "hi"}) as r:
            assert r.status == 200
    assert seen == [("finished", "openai.chat"), ("validate", "openai.responses"), ("record", "openai.responses")]


async def test_a_hook_active_only_where_configured_is_decided_once_per_endpoint_and_config(
        fake_openai, tmp_path, monkeypatch):
    """``@active_when``: asked once per endpoint and configuration; never called where it says no;
    a configuration change (``config_loaded``) asks again."""
    from proxy.hooks import active_when

    module = types.ModuleType("rg_test_active_when_plugin")
    state = {"on": False, "asked": 0}
    called: list[str] = []

    def configured(gateway, endpoint):
        state["asked"] += 1
        return state["on"] and endpoint is not None

    @hookimpl
    @active_when(configured)
    def relaygate_validate_request(ctx):
        called.append(ctx.endpoint.name)

    module.relaygate_validate_request = relaygate_validate_request
    monkeypatch.setitem(sys.modules, "rg_test_active_when_plugin", module)
    config = openai_config(fake_openai.base_url)
    config["plugins"] = ["rg_test_active_when_plugin"]
    settings = settings_for(config, ledger_path=str(tmp_path / "l.db"))
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    async with run_gateway(settings) as gw, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {TEST_KEY}"}

        async def three_requests() -> None:
            for _ in range(3):
                async with http.post(gw.url + "/v1/chat/completions", headers=headers, json=body) as r:
                    assert r.status == 200

        await three_requests()
        assert (called, state["asked"]) == ([], 1)
        state["on"] = True                         # the configuration the test reads changed...
        await three_requests()
        assert (called, state["asked"]) == ([], 1)    # ...but nobody said so: still decided
        await gw.gateway.hooks.config_loaded(gw.gateway)
        await three_requests()
        assert (called, state["asked"]) == (["chat"] * 3, 2)
