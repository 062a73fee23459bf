"""The running telemetry of one gateway: tracer, GenAI instruments, and their providers.

Built at start-up only when the plan asks for something; ``gateway.stash[TELEMETRY]``
is absent otherwise. A collector that is down costs the request path nothing:
spans wait in the batch queue (dropped when it is full), the SDK's complaints
are throttled, and ``/healthz`` shows the exporter as a degraded dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from plugins.tracing import exporters
from plugins.tracing.config import Plan
from plugins.tracing.metrics import GenAIMetrics

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.trace import Tracer

SCOPE = "relaygate"
#: loggers of the SDK that repeat themselves while a collector is down (one line per batch or span)
NOISY_LOGGERS = (
    "opentelemetry.sdk._shared_internal", "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)


class CountingExporter(SpanExporter):
    """Wraps the OTLP exporter to count what it could not deliver (the batch processor's thread calls it)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.exported = 0
        self.failed = 0
        self.last_ok = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.last_ok = result is SpanExportResult.SUCCESS
        if self.last_ok:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class Throttle(logging.Filter):
    """One line per message per *seconds*, telling how many were held back."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self._seen: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        last, held = self._seen.get(str(record.msg), (-1e9, 0))
        if now - last < self.seconds:
            self._seen[str(record.msg)] = (last, held + 1)
            return False
        self._seen[str(record.msg)] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} similar messages in the last {self.seconds:g}s not logged)"
        return True


@dataclass
class Telemetry:
    plan: Plan
    tracer: Tracer | None = None
    metrics: GenAIMetrics | None = None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    exporter: CountingExporter | None = None
    throttle: Throttle = field(default_factory=Throttle)

    def exporter_up(self) -> bool:
        """False while the last export of spans failed (a dependency check: /healthz, relaygate_dependency_up)."""
        return self.exporter is None or self.exporter.last_ok

    def close(self) -> None:
        """Flush and stop (blocking: run it in a thread)."""
        try:
            if self.tracer_provider is not None:
                self.tracer_provider.shutdown()
            if self.meter_provider is not None:
                self.meter_provider.shutdown(timeout_millis=5000)
        finally:
            for name in NOISY_LOGGERS:
                logging.getLogger(name).removeFilter(self.throttle)


def build(plan: Plan) -> Telemetry:
    """The SDK objects *plan* asks for; raises exporters.MissingExporter for gRPC without its extra."""
    res = exporters.resource(plan)
    telemetry = Telemetry(plan)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(telemetry.throttle)
    if plan.metrics:
        telemetry.meter_provider = exporters.meter_provider(plan, res)
        telemetry.metrics = GenAIMetrics(telemetry.meter_provider.get_meter(SCOPE, exporters.resource_version()))
    if plan.traces:
        provider, exporter = exporters.tracer_provider(plan, res, telemetry.meter_provider)
        telemetry.tracer_provider, telemetry.exporter = provider, CountingExporter(exporter)
        provider.add_span_processor(exporters.batching(telemetry.exporter, telemetry.meter_provider))
        telemetry.tracer = provider.get_tracer(SCOPE, exporters.resource_version())
    return telemetry
