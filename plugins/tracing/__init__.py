"""OpenTelemetry traces and GenAI metrics, in the standard conventions, over OTLP.

:mod:`plugins.tracing.setup` is always registered (the ``telemetry:`` section, start-up and
shutdown); :mod:`plugins.tracing.spans` holds the per-request hooks and is registered at start-up
only when telemetry is on. Configured like every OpenTelemetry SDK (``OTEL_*``) or by ``telemetry:``.
"""
