"""relaygate_attempt_started: once per provider attempt, its headers reach the provider but can
never replace credentials or framing; plugins that register at start-up join the request path
after Hooks.refresh(); RESPONSE_TAPS see what the client is sent."""

from __future__ import annotations

import sys
import types

import aiohttp
from support.behavior import Behavior
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from proxy import hookimpl
from proxy.hygiene import add_headers
from proxy.taps import RESPONSE_TAPS

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Hi"}]}


def test_added_headers_never_replace_or_smuggle():
    headers = {"Authorization": "Bearer sk-provider", "Content-Type": "application/json", "anthropic-version": "1"}
    add_headers(headers, {"traceparent": "00-ab-cd-01", "authorization": "Bearer evil", "X-Api-Key": "k",
                          "Content-Length": "1", "Cookie": "c", "Host": "evil", "Anthropic-Version": "2",
                          "x-split": "a\r\nInjected: 1", "bad name": "v", "Transfer-Encoding": "chunked"})
    assert headers == {"Authorization": "Bearer sk-provider", "Content-Type": "application/json",
                       "anthropic-version": "1", "traceparent": "00-ab-cd-01"}


async def test_a_plugin_registered_at_startup_adds_headers_to_every_attempt(fake_openai, tmp_path, monkeypatch):
    seen: list[tuple[int, str]] = []
    answers: list[bytes] = []
    module = types.ModuleType("rg_test_attempt_headers")

    @hookimpl
    def relaygate_attempt_started(ctx, route, attempt):
        seen.append((attempt.number, route.served.name))
        ctx.stash.setdefault(RESPONSE_TAPS, [answers.append])
        return {"x-attempt": str(attempt.number), "Authorization": "Bearer stolen"}

    module.relaygate_attempt_started = relaygate_attempt_started

    @hookimpl
    def relaygate_startup(gateway):
        gateway.pm.register(module)                     # as tracing does when it is configured
        gateway.hooks.refresh()

    starter = types.ModuleType("rg_test_attempt_starter")
    starter.relaygate_startup = relaygate_startup
    monkeypatch.setitem(sys.modules, "rg_test_attempt_starter", starter)
    config = openai_config(fake_openai.base_url)
    config["plugins"] = ["rg_test_attempt_starter"]
    config["endpoints"]["chat"]["retry"] = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02}
    fake_openai.script(Behavior(status=503))
    async with run_gateway(settings_for(config, ledger_path=str(tmp_path / "l.db"))) as gw:
        assert gw.gateway.hooks.has_attempt_listeners
        async with aiohttp.ClientSession() as s, s.post(gw.url + "/v1/chat/completions", json=CHAT,
                                                        headers=AUTH) as r:
            assert r.status == 200
            body = await r.read()
    assert seen == [(1, "gpt"), (2, "gpt")]
    assert [q.headers.get("x-attempt") for q in fake_openai.requests] == ["1", "2"]
    assert all(q.bearer == "sk-upstream-secret" for q in fake_openai.requests)
    assert answers == [body]                            # only the attempt that answered the client
