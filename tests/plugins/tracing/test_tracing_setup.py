"""Turning tracing on and off: the standard OTEL_* variables, the telemetry: section, gRPC, a collector
that is down, and zero per-request work when off."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
import pytest_asyncio
from otlp_receiver import OtlpReceiver
from tracing_support import CHAT, clean_otel_env, config_for, post, traced_gateway

from plugins.tracing import exporters, spans
from plugins.tracing.config import GRPC, HTTP, TELEMETRY, TelemetryConfig, resolve
from proxy.config import ConfigError, parse_settings


@pytest_asyncio.fixture
async def receiver(monkeypatch):
    clean_otel_env(monkeypatch)
    r = await OtlpReceiver().start()
    try:
        yield r
    finally:
        await r.stop()


# -- what the configuration and the environment mean --------------------------------------------

def test_off_unless_something_asks_for_it():
    assert not resolve(TelemetryConfig(), {}).any
    assert not resolve(TelemetryConfig(), {"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}).any


def test_the_standard_endpoint_variables_turn_traces_on_and_the_exporter_reads_them():
    plan = resolve(TelemetryConfig(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert plan.traces and not plan.metrics
    assert plan.traces_endpoint is None and plan.traces_protocol == HTTP      # the SDK resolves it
    assert resolve(TelemetryConfig(), {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}).traces
    assert resolve(TelemetryConfig(), {"OTEL_TRACES_EXPORTER": "otlp"}).traces


def test_disabled_and_none_win_over_endpoints():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not resolve(TelemetryConfig(), {**env, "OTEL_SDK_DISABLED": "true"}).any
    assert not resolve(TelemetryConfig(endpoint="http://c:4318"), {"OTEL_SDK_DISABLED": "TRUE"}).any
    assert not resolve(TelemetryConfig(), {**env, "OTEL_TRACES_EXPORTER": "none"}).any
    assert not resolve(TelemetryConfig(enabled=False), env).any
    assert resolve(TelemetryConfig(endpoint="http://c:4318"), {"OTEL_TRACES_EXPORTER": "none"}).traces


def test_the_section_wins_over_the_variables():
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
           "OTEL_METRICS_EXPORTER": "otlp"}
    plan = resolve(TelemetryConfig(endpoint="http://c:4318/", protocol="http/protobuf", capture_content=False,
                                   metrics=False, service_name="gw", headers={"x-k": "v"}), env)
    assert plan.traces_endpoint == "http://c:4318/v1/traces" and plan.metrics_endpoint == "http://c:4318/v1/metrics"
    assert not plan.capture_content and not plan.metrics and plan.headers == {"x-k": "v"}
    assert plan.resource_attributes == {"service.name": "gw"}
    grpc = resolve(TelemetryConfig(endpoint="http://c:4317"), env)
    assert grpc.traces_protocol == GRPC and grpc.traces_endpoint == "http://c:4317"
    assert grpc.capture_content and grpc.metrics


def test_an_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="http/json"):
        resolve(TelemetryConfig(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c",
                                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_grpc_without_its_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc", None)      # as if not installed
    with pytest.raises(ConfigError, match=r"relaygate\[grpc\]"):
        parse_settings("telemetry:\n  protocol: grpc\n", "config.yaml", {})
    plan = resolve(TelemetryConfig(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
                                       "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    with pytest.raises(exporters.MissingExporter, match=r"pip install 'relaygate\[grpc\]'"):
        exporters.tracer_provider(plan, exporters.resource(plan), None)


# -- a running gateway ---------------------------------------------------------------------------

async def test_off_no_per_request_hook_is_registered_or_run(fake_openai, tmp_path, monkeypatch):
    clean_otel_env(monkeypatch)
    calls: list[str] = []
    for name in ("relaygate_authenticate", "relaygate_attempt_started", "relaygate_record_usage",
                 "relaygate_request_finished"):
        original = getattr(spans, name)
        monkeypatch.setattr(spans, name, lambda *a, _n=name, _f=original: calls.append(_n) or _f(*a))
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url)) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
        assert (await post(gw, "/v1/chat/completions", {**CHAT, "stream": True}))[0] == 200
        rows = await gw.ledger_rows()
        assert TELEMETRY not in gw.gateway.stash and not gw.gateway.pm.is_registered(spans)
        assert not gw.gateway.hooks.has_attempt_listeners
    assert calls == [] and [r["trace_id"] for r in rows] == ["", ""]
    assert "traceparent" not in fake_openai.last.headers


async def test_on_registers_the_request_hooks_and_shutdown_removes_them(fake_openai, receiver, tmp_path):
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        gateway = gw.gateway
        assert gateway.pm.is_registered(spans) and gateway.hooks.has_attempt_listeners
    assert not gateway.pm.is_registered(spans) and not gateway.hooks.has_attempt_listeners
    assert TELEMETRY not in gateway.stash


async def test_the_standard_variables_configure_everything(fake_openai, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-under-test")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,team=platform")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-tenant=acme")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url)) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
    [server] = receiver.servers()
    assert server.resource | {"service.name": "gateway-under-test", "deployment.environment.name": "test",
                              "team": "platform"} == server.resource
    assert all(h.get("x-collector-tenant") == "acme" for h in receiver.headers)
    [attempt] = receiver.children_of(server)
    assert "gen_ai.input.messages" in attempt.attributes
    assert {p.metric for p in receiver.points} >= {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}


async def test_the_standard_sampler_variable_is_honoured(fake_openai, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
    assert receiver.spans == []


async def test_a_collector_that_is_down_never_slows_or_fails_a_request(fake_openai, tmp_path, monkeypatch):
    clean_otel_env(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    telemetry = {"endpoint": "http://127.0.0.1:9", "metrics": True, "metrics_interval_seconds": 0.1}
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), telemetry) as gw:
        for _ in range(20):
            started = time.monotonic()
            assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
            assert time.monotonic() - started < 0.5
        exporter = gw.gateway.stash[TELEMETRY].exporter
        for _ in range(150):                     # the batch thread tries, in its own time
            if exporter.failed:
                break
            await asyncio.sleep(0.02)
        assert exporter.failed and not gw.gateway.stash[TELEMETRY].exporter_up()
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 8       # shutdown waits a bounded time for the collector


async def test_grpc_export_reaches_a_grpc_collector(fake_openai, tmp_path, monkeypatch):
    grpc = pytest.importorskip("grpc")
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    clean_otel_env(monkeypatch)
    received: list[str] = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request, context):  # the service's method name
            received.extend(s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        telemetry = {"endpoint": f"http://127.0.0.1:{port}", "protocol": "grpc"}
        async with traced_gateway(tmp_path, config_for(fake_openai.base_url), telemetry) as gw:
            assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
        assert sorted(received) == ["POST /v1/chat/completions", "chat gpt-4o-mini"]
    finally:
        await server.stop(None)


async def test_a_failing_tracer_never_fails_a_request(fake_openai, receiver, tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("tracing bug")

    monkeypatch.setattr(spans.W3C, "extract", broken)                       # the server span cannot start
    monkeypatch.setattr(spans, "_finish_attempt", broken)
    async with traced_gateway(tmp_path, config_for(fake_openai.base_url), {"endpoint": receiver.url}) as gw:
        assert (await post(gw, "/v1/chat/completions", CHAT))[0] == 200
        assert (await post(gw, "/v1/chat/completions", {**CHAT, "stream": True}))[0] == 200
        assert len(await gw.ledger_rows()) == 2
    assert receiver.spans == []
