"""``telemetry:`` (declared by plugins.tracing.setup), and what it means together with the standard
``OTEL_*`` variables.

Every field left empty falls back to the variable every OpenTelemetry SDK reads
(``endpoint`` to ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``protocol`` to
``OTEL_EXPORTER_OTLP_PROTOCOL``, ...); a field that is set wins. Tracing is off
unless something asks for it: ``enabled: true``, an ``endpoint``, or one of
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_TRACES_EXPORTER=otlp``. ``OTEL_SDK_DISABLED=true`` turns everything off.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator

from proxy.config import ConfigModel
from proxy.stash import StashKey

if TYPE_CHECKING:
    from plugins.tracing.telemetry import Telemetry

#: the gateway's running telemetry, present only when it is on (defined here, with the plan, so that
#: start-up and shutdown need not import the SDK when telemetry is off)
TELEMETRY: StashKey[Telemetry] = StashKey("tracing.telemetry")

HTTP = "http/protobuf"
GRPC = "grpc"
#: values of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT that put content on spans
_CONTENT_ON = {"true", "1", "span_only", "span_and_event"}


class TelemetryConfig(ConfigModel):
    """OpenTelemetry traces (and GenAI metrics) over OTLP; empty fields use the OTEL_* variables."""

    enabled: bool | None = Field(None, description="None: on when an OTLP endpoint is configured")
    endpoint: str = Field("", description="OTLP base URL, e.g. http://otel-collector:4318 (gRPC: :4317)")
    protocol: Literal["", "http/protobuf", "grpc"] = ""
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="sent with every export")
    service_name: str = ""
    resource_attributes: dict[str, str] = Field(default_factory=dict)
    sample_ratio: float | None = Field(None, ge=0, le=1, description="parent-based ratio; None: OTEL_TRACES_SAMPLER")
    #: the attempt span's traceparent on provider requests (off: some providers refuse unknown headers)
    propagate_to_providers: bool = False
    #: prompts and completions on attempt spans, redacted as the endpoint's payload_logging.redact says
    capture_content: bool | None = Field(None, description="None: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    content_max_bytes: int = Field(16 * 1024, ge=0, description="cap per content attribute, after redaction")
    metrics: bool | None = Field(None, description="GenAI metrics over OTLP; None: OTEL_METRICS_EXPORTER=otlp")
    metrics_interval_seconds: float | None = Field(None, gt=0, description="None: OTEL_METRIC_EXPORT_INTERVAL")

    @model_validator(mode="after")
    def _grpc_installed(self) -> TelemetryConfig:
        if self.protocol == GRPC and not grpc_exporter_installed():
            raise ValueError("protocol grpc needs the optional gRPC exporter: pip install 'relaygate[grpc]' "
                             "(or use http/protobuf, the collector's port 4318)")
        return self


def grpc_exporter_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None
    except ModuleNotFoundError:           # a parent package is missing
        return False


@dataclass(frozen=True)
class Plan:
    """What to build at start-up: the config and the environment resolved once."""

    traces: bool = False
    metrics: bool = False
    traces_protocol: str = HTTP
    metrics_protocol: str = HTTP
    #: explicit endpoints from the config (None: the exporter reads the OTEL_* variables itself)
    traces_endpoint: str | None = None
    metrics_endpoint: str | None = None
    headers: dict[str, str] | None = None
    resource_attributes: dict[str, str] = field(default_factory=dict)
    sample_ratio: float | None = None
    propagate: bool = False
    capture_content: bool = False
    content_max_bytes: int = 16 * 1024
    metrics_interval_ms: float | None = None

    @property
    def any(self) -> bool:
        return self.traces or self.metrics


def _flag(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip().lower()


def _protocol(cfg: TelemetryConfig, environ: Mapping[str, str], signal: str) -> str:
    found = cfg.protocol or _flag(environ, f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") \
        or _flag(environ, "OTEL_EXPORTER_OTLP_PROTOCOL") or HTTP
    if found not in (HTTP, GRPC):
        raise ValueError(f"OTLP protocol {found!r} is not supported: use {HTTP} or {GRPC}")
    return found


def _endpoint(base: str, protocol: str, path: str) -> str | None:
    if not base:
        return None
    # OTLP/HTTP takes one URL per signal; gRPC one address for all
    return base if protocol == GRPC else base.rstrip("/") + path


def resolve(cfg: TelemetryConfig, environ: Mapping[str, str]) -> Plan:
    """The plan for *cfg* in *environ*; Plan() (everything off) unless something asks for telemetry."""
    if _flag(environ, "OTEL_SDK_DISABLED") == "true" or cfg.enabled is False:
        return Plan()
    exporter = _flag(environ, "OTEL_TRACES_EXPORTER")        # otlp (the SDK's default) or none
    traces = bool(cfg.enabled or cfg.endpoint) or exporter == "otlp" or (exporter != "none" and bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")))
    metrics = cfg.metrics if cfg.metrics is not None else _flag(environ, "OTEL_METRICS_EXPORTER") == "otlp"
    if not traces and not metrics:
        return Plan()
    traces_protocol = _protocol(cfg, environ, "TRACES")
    metrics_protocol = _protocol(cfg, environ, "METRICS")
    content = cfg.capture_content if cfg.capture_content is not None else \
        _flag(environ, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") in _CONTENT_ON
    attributes = dict(cfg.resource_attributes)
    if cfg.service_name:
        attributes["service.name"] = cfg.service_name
    return Plan(
        traces=traces, metrics=metrics, traces_protocol=traces_protocol, metrics_protocol=metrics_protocol,
        traces_endpoint=_endpoint(cfg.endpoint, traces_protocol, "/v1/traces"),
        metrics_endpoint=_endpoint(cfg.endpoint, metrics_protocol, "/v1/metrics"),
        headers={k: v.get_secret_value() for k, v in cfg.headers.items()} or None,
        resource_attributes=attributes, sample_ratio=cfg.sample_ratio, propagate=cfg.propagate_to_providers,
        capture_content=content, content_max_bytes=cfg.content_max_bytes,
        metrics_interval_ms=cfg.metrics_interval_seconds * 1000 if cfg.metrics_interval_seconds else None)
