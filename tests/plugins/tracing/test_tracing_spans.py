"""Spans of real requests through a running gateway, as an OTLP/HTTP collector receives them."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest_asyncio
from otlp_receiver import OtlpReceiver
from support.behavior import Behavior
from support.fake_openai import FakeOpenAI
from tracing_support import AUTH, CHAT, clean_otel_env, config_for, post, traced_gateway, two_model_config

CLAUDE_CODE = {"User-Agent": "claude-cli/2.1.197 (external, sdk-cli)", "x-app": "cli",
               "anthropic-version": "2023-06-01", "X-Claude-Code-Session-Id": "sess-claude-7"}


@pytest_asyncio.fixture
async def receiver(monkeypatch):
    clean_otel_env(monkeypatch)
    r = await OtlpReceiver().start()
    try:
        yield r
    finally:
        await r.stop()


@pytest_asyncio.fixture
async def backup():
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


async def test_a_call_is_a_server_span_with_one_genai_client_span(fake_openai, receiver, tmp_path, caplog):
    caplog.set_level("INFO", logger="relaygate.access")
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        before = time.time_ns()
        status, headers, _ = await post(gw, "/v1/chat/completions", CHAT)
        after = time.time_ns()
        assert status == 200
        rows = await gw.ledger_rows()
    [server] = receiver.servers()
    [attempt] = receiver.children_of(server)
    assert server.name == "POST /v1/chat/completions" and server.parent_span_id == ""
    assert server.attributes | {
        "http.request.method": "POST", "url.path": "/v1/chat/completions", "http.route": "/v1/chat/completions",
        "http.response.status_code": 200, "server.address": "127.0.0.1",
        "relaygate.request_id": headers["x-request-id"],
        "relaygate.key.owner": "alice", "relaygate.key.team": "ml", "relaygate.endpoint": "chat",
        "relaygate.surface": "unified", "relaygate.attempts": 1} == server.attributes
    assert server.resource["service.name"] == "relaygate" and server.status == "unset"
    assert attempt.kind == "client" and attempt.name == "chat gpt-4o-mini" and attempt.trace_id == server.trace_id
    assert attempt.attributes | {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini", "gen_ai.request.max_tokens": 50, "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9, "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 8,
        "gen_ai.response.finish_reasons": ["stop"], "relaygate.attempt": 1, "relaygate.attempt.kind": "first",
        "relaygate.outcome": "complete", "server.address": "127.0.0.1"} == attempt.attributes
    assert attempt.attributes["gen_ai.response.id"].startswith("chatcmpl-")
    assert "error.type" not in attempt.attributes and "gen_ai.input.messages" not in attempt.attributes
    # timing: the server span covers the attempt, both within what the client saw
    assert before - 5_000_000 <= server.start_ns <= attempt.start_ns < attempt.end_ns <= server.end_ns <= after
    # the trace id is in the ledger row and the access log line
    assert [r["trace_id"] for r in rows] == [server.trace_id]
    [line] = [r for r in caplog.records if r.name == "relaygate.access"]
    assert line.trace_id == server.trace_id                 # type: ignore[attr-defined]


async def test_a_stream_attempt_ends_after_the_last_chunk_with_a_first_token_event(fake_openai, receiver, tmp_path):
    delay = 0.2
    fake_openai.script(Behavior(chunks=4, chunk_delay=delay, usage={"input_tokens": 30, "output_tokens": 4,
                                                                    "cached_tokens": 10, "reasoning_tokens": 2}))
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        async with aiohttp.ClientSession() as s, s.post(gw.url + "/v1/chat/completions", headers=AUTH,
                                                        json={**CHAT, "stream": True}) as r:
            first_read = None
            async for _ in r.content.iter_any():
                first_read = first_read or time.time_ns()
        rec = fake_openai.last
    [server] = receiver.servers()
    [attempt] = receiver.children_of(server)
    # the provider sent its last event no earlier than (events - 1) delays after the request reached it
    last_sent = int((rec.ts + (rec.events_sent - 1) * delay) * 1e9)
    assert rec.events_sent >= 5 and attempt.end_ns >= last_sent
    assert attempt.seconds >= (rec.events_sent - 1) * delay and attempt.end_ns <= server.end_ns
    [event] = attempt.events
    assert event.name == "relaygate.first_token" and attempt.start_ns < event.time_ns <= first_read
    assert event.time_ns < last_sent - int(delay * 1e9)          # the first chunk, not the last
    ttfc = attempt.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttfc < delay and ttfc == event.attributes["gen_ai.response.time_to_first_chunk"]
    assert attempt.attributes | {
        "gen_ai.request.stream": True, "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 4,
        "gen_ai.usage.cache_read.input_tokens": 10, "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.response.finish_reasons": ["stop"], "relaygate.outcome": "complete"} == attempt.attributes


async def test_retries_and_a_fallback_are_sibling_attempts_with_their_reason(fake_openai, backup, receiver, tmp_path):
    fake_openai.always(Behavior(status=503))
    config = two_model_config(fake_openai.base_url, backup.base_url)
    async with traced_gateway(tmp_path, config, {"endpoint": receiver.url}) as gw:
        status, headers, _ = await post(gw, "/v1/chat/completions", {"model": "chat", "messages": CHAT["messages"]})
        assert status == 200 and headers["x-relaygate-served-model"] == "backup"
    [server] = receiver.servers()
    attempts = receiver.children_of(server)
    assert [(a.name, a.attributes["relaygate.attempt"], a.attributes["relaygate.attempt.kind"],
             a.attributes.get("relaygate.attempt.reason"), a.attributes.get("error.type"), a.status)
            for a in attempts] == [
        ("chat gpt-4o-mini", 1, "first", None, "503", "error"),
        ("chat gpt-4o-mini", 2, "retry", "503", "503", "error"),
        ("chat gpt-4o", 3, "fallback", "503", None, "unset")]
    assert all(a.parent_span_id == server.span_id for a in attempts)
    assert [a.attributes["relaygate.served_model"] for a in attempts] == ["primary", "primary", "backup"]
    # one after the other, never overlapping, all inside the request
    assert server.start_ns <= attempts[0].start_ns
    assert attempts[0].end_ns <= attempts[1].start_ns and attempts[1].end_ns <= attempts[2].start_ns
    assert attempts[2].end_ns <= server.end_ns and server.attributes["relaygate.attempts"] == 3
    assert attempts[2].attributes["gen_ai.usage.output_tokens"] == 8


async def test_a_client_disconnect_ends_the_attempt_at_the_cut(fake_openai, receiver, tmp_path):
    fake_openai.script(Behavior(chunks=200, chunk_delay=0.05))
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        async with aiohttp.ClientSession() as s:
            r = await s.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH)
            await r.content.readline()
            left = time.time_ns()
            r.close()
        rec = await fake_openai.wait_for_disconnect(timeout=3)
        for _ in range(100):
            if gw.gateway.in_flight.get("unified") == 0:
                break
            await asyncio.sleep(0.02)
    [server] = receiver.servers()
    [attempt] = receiver.children_of(server)
    assert server.attributes["http.response.status_code"] == 499
    assert server.attributes["relaygate.error_reason"] == "client_disconnected"
    assert attempt.attributes["error.type"] == "client_disconnected" and attempt.status == "error"
    assert attempt.attributes["relaygate.outcome"] == "client_cancelled"
    assert rec.events_sent < 200 and left <= attempt.end_ns <= server.end_ns
    assert attempt.seconds < 3


async def test_refusals_are_a_server_span_alone_with_their_status(fake_openai, receiver, tmp_path):
    config = {**config_for(fake_openai.base_url), "limits": {"rules": [{"scope": "key", "requests_per_minute": 1}]}}
    async with traced_gateway(tmp_path, config, {"endpoint": receiver.url}) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT, {"Authorization": "Bearer wrong-key-0000"}))[0] == 401
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 429
    servers = sorted(receiver.servers(), key=lambda s: s.start_ns)
    assert [s.attributes["http.response.status_code"] for s in servers] == [401, 200, 429]
    unauthorized, _, limited = servers
    assert receiver.children_of(unauthorized) == [] and receiver.children_of(limited) == []
    assert unauthorized.status == limited.status == "unset"       # a 4xx is the client's, not a server error
    assert "relaygate.key.owner" not in unauthorized.attributes
    assert limited.attributes["relaygate.key.owner"] == "alice" and "relaygate.error_reason" in limited.attributes
    assert len(receiver.spans) == 4


async def test_a_translated_agent_call_names_the_provider_and_the_session(fake_openai, receiver, tmp_path):
    body = {"model": "chat", "max_tokens": 64, "temperature": 0.5, "top_k": 40,
            "messages": [{"role": "user", "content": "Hi"}]}
    config = config_for(fake_openai.base_url, unsupported_params="drop")       # OpenAI has no top_k
    async with traced_gateway(tmp_path, config, {"endpoint": receiver.url}) as gw:
        status, _, answer = await post(gw, "/anthropic/v1/messages", body, CLAUDE_CODE)
        assert status == 200 and json.loads(answer)["stop_reason"] == "end_turn", answer
    [server] = receiver.servers()
    [attempt] = receiver.children_of(server)
    assert server.name == "POST /anthropic/v1/messages" and server.attributes["relaygate.surface"] == "anthropic"
    assert attempt.name == "chat gpt-4o-mini"
    assert attempt.attributes | {
        "gen_ai.provider.name": "openai", "relaygate.translated_from": "anthropic.messages",
        "gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.5,
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.conversation.id": "sess-claude-7", "relaygate.agent": "claude_code"} == attempt.attributes
    assert "gen_ai.request.top_k" not in attempt.attributes                  # dropped: never sent
    # a translation answers with the gateway's names: the provider's id and model are not claimed
    assert "gen_ai.response.id" not in attempt.attributes and "gen_ai.response.model" not in attempt.attributes
    assert server.attributes["gen_ai.conversation.id"] == "sess-claude-7"
    assert server.attributes["relaygate.agent"] == "claude_code"


async def test_an_incoming_traceparent_continues_the_callers_trace(fake_openai, receiver, tmp_path):
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{trace_id}-{parent}-01", "tracestate": "vendor=opaque"}
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT, headers))[0] == 200
        rows = await gw.ledger_rows()
    [server] = receiver.servers()
    [attempt] = receiver.children_of(server)
    assert server.trace_id == attempt.trace_id == trace_id and server.parent_span_id == parent
    assert rows[0]["trace_id"] == trace_id
    assert "traceparent" not in fake_openai.last.headers          # not sent to providers unless configured


async def test_the_attempt_context_goes_to_the_provider_only_when_configured(fake_openai, backup, receiver, tmp_path):
    fake_openai.script(Behavior(status=503), Behavior(status=503))
    config = two_model_config(fake_openai.base_url, backup.base_url)
    telemetry = {"endpoint": receiver.url, "propagate_to_providers": True}
    async with traced_gateway(tmp_path, config, telemetry) as gw:
        assert (await post(gw, "/v1/chat/completions", {"model": "chat", "messages": CHAT["messages"]}))[0] == 200
    sent = [r.headers.get("traceparent") for r in fake_openai.requests + backup.requests]
    [server] = receiver.servers()
    attempts = receiver.children_of(server)
    assert [h and h[:-3] for h in sent] == [f"00-{a.trace_id}-{a.span_id}" for a in attempts]   # each its own
    assert all(int(h[-2:], 16) & 1 for h in sent)                          # sampled
    assert backup.last.bearer == "sk-upstream-two"                           # credentials untouched


async def test_sampled_out_requests_export_nothing_but_keep_their_trace_id(fake_openai, receiver, tmp_path):
    telemetry = {"endpoint": receiver.url, "sample_ratio": 0.0, "propagate_to_providers": True}
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), telemetry) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
        rows = await gw.ledger_rows()
    assert receiver.spans == []
    assert len(rows[0]["trace_id"]) == 32
    assert not int(fake_openai.last.headers["traceparent"][-2:], 16) & 1   # not sampled, still propagated


async def test_genai_metrics_go_over_otlp_when_asked(fake_openai, receiver, tmp_path):
    fake_openai.script(Behavior(), Behavior(chunks=3))
    telemetry = {"endpoint": receiver.url, "metrics": True}
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), telemetry) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
        assert (await post(gw, "/v1/chat/completions", {**CHAT, "stream": True}))[0] == 200
    points = {(p.metric, p.attributes.get("gen_ai.token.type")): p for p in receiver.points}
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
    duration = points["gen_ai.client.operation.duration", None]
    assert duration.unit == "s" and duration.count == 2 and common.items() <= duration.attributes.items()
    assert points["gen_ai.client.token.usage", "input"].sum == 24
    assert points["gen_ai.client.token.usage", "output"].sum == 16
    assert points["gen_ai.client.token.usage", "output"].unit == "{token}"
    assert points["gen_ai.client.operation.time_to_first_chunk", None].count == 1      # the stream only
