"""The OpenTelemetry SDK objects a plan asks for: providers, batching, OTLP exporters.

One tracer and meter provider per gateway, never the process-global ones: the
gateway owns their lifetime (flushed at shutdown) and tests run several
gateways in one process. Export runs in the SDK's own threads (the batch span
processor, the periodic metric reader): a slow or absent collector never
blocks the event loop; when the queue is full, spans are dropped.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from plugins.tracing.config import GRPC, Plan

SERVICE_NAME = "relaygate"


class MissingExporter(RuntimeError):
    """OTLP over gRPC was asked for but its exporter is not installed."""


def _exporter_class(protocol: str, signal: str) -> Any:
    """The OTLP exporter class of *signal* ("trace" or "metric") for *protocol*."""
    transport = "grpc" if protocol == GRPC else "http"
    name = "OTLPSpanExporter" if signal == "trace" else "OTLPMetricExporter"
    try:
        module = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{transport}.{signal}_exporter")
    except ImportError as exc:
        if transport != "grpc":
            raise
        raise MissingExporter(
            "telemetry: OTLP over gRPC (protocol grpc, or OTEL_EXPORTER_OTLP_PROTOCOL=grpc) needs the optional "
            "gRPC exporter: pip install 'relaygate[grpc]' (opentelemetry-exporter-otlp-proto-grpc); or use "
            f"http/protobuf, the collector's port 4318 ({exc})") from None
    return getattr(module, name)


def resource_version() -> str | None:
    try:
        return version("relaygate")
    except PackageNotFoundError:              # run from a checkout that was never installed
        return None


def resource(plan: Plan) -> Resource:
    """OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, then the config's attributes; 'relaygate'
    unless something names the service."""
    found = Resource.create(plan.resource_attributes)
    if str(found.attributes.get("service.name", "")).startswith("unknown_service"):
        found = found.merge(Resource({"service.name": SERVICE_NAME}))
    if "service.version" not in found.attributes and (release := resource_version()):
        found = found.merge(Resource({"service.version": release}))
    return found


def tracer_provider(plan: Plan, res: Resource, meters: MeterProvider | None) -> tuple[TracerProvider, SpanExporter]:
    """A tracer provider (no processor yet) and the OTLP span exporter for it."""
    sampler = ParentBased(TraceIdRatioBased(plan.sample_ratio)) if plan.sample_ratio is not None else None
    # shutdown_on_exit=False: the gateway's shutdown flushes it, on the event loop's terms
    provider = TracerProvider(sampler=sampler, resource=res, shutdown_on_exit=False)
    exporter = _exporter_class(plan.traces_protocol, "trace")(
        endpoint=plan.traces_endpoint, headers=plan.headers, **_self_metrics(meters))
    return provider, exporter


def batching(exporter: SpanExporter, meters: MeterProvider | None) -> BatchSpanProcessor:
    """Export off the request path, in the SDK's thread; OTEL_BSP_* tune it. With
    OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true the SDK counts queued and dropped spans
    (``otel.sdk.processor.span.processed``) into the GenAI metrics' provider."""
    return BatchSpanProcessor(exporter, meter_provider=meters)


def _self_metrics(meters: MeterProvider | None) -> dict[str, Any]:
    """The exporter's own metrics (OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED) go where the GenAI ones go."""
    return {"meter_provider": meters} if meters is not None else {}


def meter_provider(plan: Plan, res: Resource) -> MeterProvider:
    exporter = _exporter_class(plan.metrics_protocol, "metric")(endpoint=plan.metrics_endpoint, headers=plan.headers)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=plan.metrics_interval_ms)
    return MeterProvider(metric_readers=[reader], resource=res, shutdown_on_exit=False)
